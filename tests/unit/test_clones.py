"""Synthetic clones: valid code, the transformation asked for, deterministic under a seed."""

from __future__ import annotations

import ast
import random
import textwrap

import pytest

from embedding.clones import (
    CloneKind,
    change_literals,
    edit_statements,
    make_clone,
    reformat,
    rename_identifiers,
)
from embedding.extract import body_hash, code_tokens

FUNCTION = textwrap.dedent(
    """\
    def merge_counts(left, right, *extra, limit=10, **options):
        total = {}
        for key, value in left.items():
            total[key] = total.get(key, 0) + value
        for key, value in right.items():
            if value > limit:
                continue
            total[key] = total.get(key, 0) + value * 2
        pairs = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))
        self_check = options.get("check", True)
        print("merged %d keys" % len(pairs), self_check,
              extra)
        return pairs[:limit]
    """
)


def _identifiers(code: str) -> set[str]:
    return {t.text for t in code_tokens("python", code) if t.kind == "identifier"}


@pytest.mark.parametrize("kind", list(CloneKind))
@pytest.mark.parametrize("seed", range(12))
def test_python_clones_parse(kind: CloneKind, seed: int) -> None:
    clone = make_clone("python", FUNCTION, kind, seed=seed)
    ast.parse(clone.code)
    assert clone.kind is kind
    assert clone.operations


def test_same_seed_same_clone_and_other_seeds_differ() -> None:
    first = make_clone("python", FUNCTION, CloneKind.RENAMED_EDITED, seed=3)
    assert make_clone("python", FUNCTION, CloneKind.RENAMED_EDITED, seed=3) == first
    others = {make_clone("python", FUNCTION, CloneKind.RENAMED_EDITED, seed=s).code for s in range(4, 10)}
    assert len(others - {first.code}) >= 5


@pytest.mark.parametrize("seed", range(6))
def test_reformatting_changes_layout_only(seed: int) -> None:
    code, _ = reformat("python", FUNCTION, random.Random(seed))
    assert body_hash("python", code) == body_hash("python", FUNCTION)
    assert ast.dump(ast.parse(code)) == ast.dump(ast.parse(FUNCTION))


def test_reformatting_varies_the_text() -> None:
    texts = {reformat("python", FUNCTION, random.Random(seed))[0] for seed in range(8)}
    assert len(texts - {FUNCTION}) >= 4


def test_renaming_is_consistent_and_spares_members_keywords_and_globals() -> None:
    code, operations = rename_identifiers("python", FUNCTION, random.Random(1))
    renamed = dict(op.removeprefix("rename ").split("->") for op in operations)
    assert set(renamed) == {"merge_counts", "left", "right", "extra", "limit", "options", "total", "key", "value",
                            "pairs", "self_check"}  # fmt: skip
    names = _identifiers(code)
    assert names & set(renamed) == {"key"}  # only as the keyword argument key=
    assert {"items", "get", "sorted", "len", "print", "kv"} <= names  # members, builtins, lambda params
    assert "key=lambda" in code  # a keyword argument's name is the callee's, not ours
    # Same structure after mapping the new names back.
    back = {new: old for old, new in renamed.items()}
    mapped = [back.get(t.text, t.text) for t in code_tokens("python", code)]
    assert mapped == [t.text for t in code_tokens("python", FUNCTION)]


def test_renaming_can_keep_the_function_name() -> None:
    code, _ = rename_identifiers("python", FUNCTION, random.Random(2), rename_function=False)
    assert code.startswith("def merge_counts(")


def test_literal_changes_touch_only_literals() -> None:
    code, operations = change_literals("python", FUNCTION, random.Random(5), count=2)
    assert len(operations) == 2
    before = [t for t in code_tokens("python", FUNCTION)]
    after = [t for t in code_tokens("python", code)]
    assert [t.kind for t in before] == [t.kind for t in after]
    differing = [(a, b) for a, b in zip(before, after, strict=True) if a.text != b.text]
    assert len(differing) == 2
    assert all(a.kind == "literal" for a, _ in differing)


@pytest.mark.parametrize("seed", range(8))
def test_statement_edits_change_between_one_and_count_statements(seed: int) -> None:
    rng = random.Random(seed)
    count = rng.randint(1, 3)
    code, operations = edit_statements("python", FUNCTION, rng, count=count)
    ast.parse(code)
    assert 1 <= len(operations) <= count
    assert code != FUNCTION


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (
            "javascript",
            "function total(items, rate) {\n  let sum = 0;\n  for (const item of items) {\n    sum += item.price;\n  }\n  const tax = sum * rate;\n  return sum + tax;\n}\n",
        ),
        (
            "go",
            "func total(items []Item, rate float64) float64 {\n\tsum := 0.0\n\tfor _, item := range items {\n\t\tsum += item.Price\n\t}\n\ttax := sum * rate\n\treturn sum + tax\n}\n",
        ),
        (
            "java",
            "int total(List<Item> items, int rate) {\n    int sum = 0;\n    for (Item item : items) {\n        sum += item.price;\n    }\n    int tax = sum * rate;\n    return sum + tax;\n}\n",
        ),
    ],
)
def test_other_languages_best_effort_parse_and_rename(language: str, code: str) -> None:
    from embedding.extract import parse

    for kind in CloneKind:
        clone = make_clone(language, code, kind, seed=4)
        assert not parse(language, clone.code.encode()).root_node.has_error, clone.code
    renamed = make_clone(language, code, CloneKind.RENAMED, seed=4)
    assert "sum" not in {t.text for t in code_tokens(language, renamed.code) if t.kind == "identifier"}
    assert "price" in renamed.code.lower()


SMALL_BLOCKS = textwrap.dedent(
    """\
    def owner(self):
        try:
            import pwd
            return pwd.getpwuid(self.stat().st_uid).pw_name
        except ImportError:
            raise NotImplementedError("unsupported")
    """
)


@pytest.mark.parametrize("seed", range(30))
def test_edits_never_empty_a_block(seed: int) -> None:
    code, _ = edit_statements("python", SMALL_BLOCKS, random.Random(seed), count=3)
    ast.parse(code)


@pytest.mark.parametrize("seed", range(10))
def test_a_reformatted_clone_always_differs_from_its_original(seed: int) -> None:
    code = "def f(a):\n    return a\n"
    clone = make_clone("python", code, CloneKind.REFORMATTED, seed=seed)
    assert clone.code != code
    assert body_hash("python", clone.code) == body_hash("python", code)
