"""Workflow-command annotations (the fork fallback): escaping, GitHub's per-step caps, left-out counts."""

from __future__ import annotations

import pytest

from bot.annotations import (
    MAX_NOTICES_PER_STEP,
    MAX_WARNINGS_PER_STEP,
    Annotation,
    annotation_for,
    escape_data,
    escape_property,
    plan_annotations,
)
from core.domain import Finding, FindingKind, IndexedFunction
from tests.factories import make_function


def _finding(i: int, kind: FindingKind = FindingKind.DUPLICATE, path: str = "app/mod.py") -> Finding:
    fn = make_function(f"def f{i}(x):\n    y = x + {i}\n    return y\n", path=path, start_line=10 * i + 1)
    target = IndexedFunction(
        repo="acme/shop", language="python", path="lib/base.py", qualified_name=f"g{i}", start_line=3, end_line=7,
        commit="b" * 40, body_hash=f"h{i}", adapter_version="minilm-l6:base",
    )  # fmt: skip
    return Finding(kind, fn, target, 0.95, 0.96, 0.9, "minilm-l6:base")


def test_message_escapes_percent_and_line_breaks() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"


def test_property_escapes_colon_and_comma_too() -> None:
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_command_has_file_lines_and_title_escaped() -> None:
    line = Annotation("warning", "src/a,b:c.py", 3, 9, "doppel: dup, maybe", "50% same\nsee x").command()
    assert line == "::warning file=src/a%2Cb%3Ac.py,line=3,endLine=9,title=doppel%3A dup%2C maybe::50%25 same%0Asee x"


def test_annotation_spans_the_changed_function_and_names_the_match() -> None:
    finding = _finding(2)
    annotation = annotation_for(finding)
    assert (annotation.level, annotation.path, annotation.line, annotation.end_line) == (
        "warning",
        "app/mod.py",
        finding.function.start_line,
        finding.function.end_line,
    )
    assert "g2" in annotation.message and "lib/base.py" in annotation.message
    assert finding.fingerprint in annotation.message


@pytest.mark.parametrize(("kind", "level"), [(FindingKind.INTRA_PR, "warning"), (FindingKind.RELATED, "notice")])
def test_levels_by_kind(kind: FindingKind, level: str) -> None:
    assert annotation_for(_finding(1, kind)).level == level


def test_warnings_are_capped_per_step_and_the_rest_counted() -> None:
    findings = [_finding(i) for i in range(MAX_WARNINGS_PER_STEP + 4)]
    plan = plan_annotations(findings)
    assert len(plan.shown) == MAX_WARNINGS_PER_STEP
    assert plan.left_out == 4
    # The best (first) findings are the ones shown.
    assert [a.line for a in plan.shown] == [f.function.start_line for f in findings[:MAX_WARNINGS_PER_STEP]]


def test_notices_have_their_own_cap() -> None:
    findings = [_finding(i) for i in range(3)] + [_finding(i, FindingKind.RELATED) for i in range(12)]
    plan = plan_annotations(findings)
    levels = [a.level for a in plan.shown]
    assert levels.count("warning") == 3 and levels.count("notice") == MAX_NOTICES_PER_STEP
    assert plan.left_out == 12 - MAX_NOTICES_PER_STEP


def test_job_wide_cap_applies_on_top() -> None:
    plan = plan_annotations([_finding(i) for i in range(8)], max_total=5)
    assert (len(plan.shown), plan.left_out) == (5, 3)


def test_lines_are_one_command_each_without_raw_newlines() -> None:
    plan = plan_annotations([_finding(i) for i in range(3)])
    lines = plan.lines()
    assert len(lines) == 3
    assert all(line.startswith("::warning file=app/mod.py,line=") and "\n" not in line for line in lines)


def test_nothing_to_say_for_no_findings() -> None:
    plan = plan_annotations([])
    assert (plan.lines(), plan.left_out) == ([], 0)
