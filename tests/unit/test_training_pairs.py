"""Pair mining: text and code pairs, the split by file, filters, history and synthetic clones."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from embedding.clones import TRAINING_KINDS, CloneKind
from embedding.training.config import TrainConfig
from embedding.training.mining import mine_repository
from embedding.training.pairs import (
    TrainingPair,
    assign_splits,
    balance_kinds,
    clean_doc,
    filter_pairs,
    history_pair,
    identifier_words,
    split_for_path,
    synthetic_pairs,
    text_pairs,
)
from tests.factories import commit, make_function, make_repo

DOC_FN = make_function(
    "def parse_header(line, strict):\n    key, _, value = line.partition(':')\n    return key.strip(), value.strip()\n",
    docstring="Split an HTTP header line into name and value.\n\nArgs:\n  line: the raw line",
)


def test_identifier_words_split_camel_and_snake_case() -> None:
    assert identifier_words("parseHTTPResponse_v2(raw_bytes)") == [
        "parse",
        "http",
        "response",
        "v",
        "2",
        "raw",
        "bytes",
    ]


def test_doc_query_is_the_first_paragraph() -> None:
    assert clean_doc(DOC_FN.docstring or "") == "Split an HTTP header line into name and value."


def test_a_doc_query_stops_at_the_first_block_tag_of_phpdoc_jsdoc_yard_or_javadoc() -> None:
    # PHPDoc and JSDoc put "@param"/"@return" lines right under the summary, with no blank line,
    # so the first paragraph carried the parameter list the doc query is meant to leave out.
    phpdoc = "Write to stream\n@param resource $stream\n@return void"
    jsdoc = "Determines if each fix type is supported.\n@param {string[]} fixTypes An array of fix types."
    yard = "Stringify all keys recursively. @api private"

    assert clean_doc(phpdoc) == "Write to stream"
    assert clean_doc(jsdoc) == "Determines if each fix type is supported."
    assert clean_doc(yard) == "Stringify all keys recursively."
    assert clean_doc("Returns the {@link AspectRatio} of this size, see {@code inverse}.") == (
        "Returns the {@link AspectRatio} of this size, see {@code inverse}."
    )  # inline tags stay
    assert clean_doc("Like @property, but returns the class value.") == "Like @property, but returns the class value."
    assert clean_doc("@brief sets the binary subtype\n@sa https://json.nlohmann.me/") == "sets the binary subtype"


def test_a_doc_that_is_only_tags_makes_no_text_pair() -> None:
    # "@return bool[]" and "@psalm-immutable" were doc queries: 27% of the PHP ones mined.
    for doc in ("@return bool[]", "@psalm-immutable", "@param DelimiterInterface|int|null $stackBottom"):
        fn = replace(DOC_FN, docstring=doc)

        assert clean_doc(doc) == ""
        assert [p.source for p in text_pairs([fn])] == ["identifiers"]


def test_text_pairs_from_doc_and_identifiers() -> None:
    pairs = text_pairs([DOC_FN])
    by_source = {p.source: p for p in pairs}
    assert by_source["docstring"].query == "Split an HTTP header line into name and value."
    assert by_source["docstring"].code == DOC_FN.code
    assert by_source["identifiers"].query == "parse header line strict"
    assert "def parse_header" not in by_source["identifiers"].code
    assert {p.function_key for p in pairs} == {"pkg/mod.py::parse_header"}


def test_identifier_pairs_can_be_switched_off() -> None:
    assert [p.source for p in text_pairs([DOC_FN], identifiers=False)] == ["docstring"]


def test_split_is_by_file_and_leaks_no_file() -> None:
    pairs = [
        TrainingPair(
            "text2code",
            "docstring",
            "python",
            f"pkg/m{i % 97}.py",
            f"pkg/m{i % 97}.py::f{i}",
            f"q{i}",
            f"c{i}",
            f"h{i}",
        )
        for i in range(2000)
    ]
    split = assign_splits(pairs, seed=1, validation=0.2, test=0.2)
    splits_of_file: dict[str, set[str]] = {}
    for p in split:
        splits_of_file.setdefault(p.path, set()).add(p.split)
    assert all(len(s) == 1 for s in splits_of_file.values())
    assert {next(iter(s)) for s in splits_of_file.values()} == {"train", "validation", "test"}
    assert split == assign_splits(pairs, seed=1, validation=0.2, test=0.2)  # deterministic


def test_split_fractions_are_roughly_respected() -> None:
    splits = [split_for_path(f"src/file_{i}.go", seed=0, validation=0.1, test=0.2) for i in range(5000)]
    assert 0.15 < splits.count("test") / 5000 < 0.25
    assert 0.06 < splits.count("validation") / 5000 < 0.14


def test_filter_drops_duplicates_and_out_of_range_lengths() -> None:
    base = TrainingPair("text2code", "docstring", "python", "a.py", "a.py::f", "what f does", "x" * 100, "h")
    pairs = [
        base,
        replace(base),
        replace(base, code="short"),
        replace(base, code="y" * 10_000),
        replace(base, query="q"),
    ]
    assert filter_pairs(pairs, min_code_chars=60, max_code_chars=6000, min_query_chars=5) == [base]


def test_history_pair_only_for_modest_changes() -> None:
    old = make_function("def f(x):\n    y = x + 1\n    z = y * 2\n    w = z - 3\n    return w\n")
    modest = make_function("def f(x):\n    y = x + 1\n    z = y * 2\n    w = z - 4\n    return w\n")
    rewrite = make_function("def f(x):\n    return sorted(set(x), reverse=True)\n")
    pair = history_pair(old, modest)
    assert pair is not None and (pair.query, pair.code, pair.source) == (old.code, modest.code, "history")
    assert history_pair(old, rewrite) is None
    assert history_pair(old, old) is None


def test_synthetic_pairs_are_deterministic_clones() -> None:
    fn = make_function(
        "def total_price(items, tax):\n    total = 0\n    for item in items:\n        total += item.price\n    return total * (1 + tax)\n"
    )
    first = synthetic_pairs([fn], per_function=3, seed=0)
    assert first == synthetic_pairs([fn], per_function=3, seed=0)
    assert len({p.clone_type for p in first}) == 3  # a function's clones take turns through the kinds
    assert {p.clone_type for p in first} <= {k.value for k in TRAINING_KINDS}
    for p in first:
        assert p.code == fn.code and p.query != fn.code and p.kind == "code2code"


def test_mining_a_git_repository_uses_history(tmp_path: Path) -> None:
    body = "\n".join(f"    v{i} = x + {i}" for i in range(8))
    repo = make_repo(tmp_path, {"pkg/a.py": f'def f(x):\n    """Add numbers to x in turn."""\n{body}\n    return v7\n'})
    commit(
        repo, {"pkg/a.py": f'def f(x):\n    """Add numbers to x in turn."""\n{body}\n    v8 = v7 * 2\n    return v8\n'}
    )
    mined = mine_repository(Path(repo.working_tree_dir or ""), TrainConfig(min_code_chars=10, synthetic_per_function=0))
    assert mined.commit == repo.head.commit.hexsha
    assert [fn.qualified_name for fn in mined.functions] == ["f"]
    sources = {p.source for p in mined.pairs}
    assert {"docstring", "history"} <= sources


def test_mining_a_plain_directory(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        'def g(a, b):\n    """Multiply two numbers together."""\n    c = a * b\n    return c\n'
    )
    mined = mine_repository(tmp_path, TrainConfig(min_code_chars=10))
    assert mined.commit is None
    assert {p.source for p in mined.pairs} >= {"docstring", "synthetic"}


def test_fallback_clone_renames_consistently_and_edits_statements() -> None:
    import random

    from embedding.clones import fallback_clone, local_names

    fn = make_function(
        "func Sum(values []int, limit int) int {\n\ttotal := 0\n\tfor _, v := range values {\n\t\ttotal += v\n\t}\n\tcount := limit + 1\n\treturn total + count\n}\n",
        language="go",
        path="sum.go",
    )
    assert {"values", "limit", "total", "count"} <= set(local_names(fn))
    renamed = fallback_clone(fn, CloneKind.RENAMED, random.Random(0))
    assert renamed is not None and "values" not in renamed and "total" not in renamed
    assert renamed.count("func Sum(") == 1
    edited = fallback_clone(fn, CloneKind.RENAMED_EDITED, random.Random(1))
    assert edited is not None and edited != renamed


def _kind_pair(i: int, kind: str, source: str, split: str = "train", language: str = "python") -> TrainingPair:
    return TrainingPair(
        kind,
        source,
        language,
        f"f{i}.py",
        f"f{i}.py::fn{i}",
        f"q{i}",
        f"code{i}",
        f"h{i}",
        split=split,  # type: ignore[arg-type]
    )


def test_balance_caps_code_pairs_per_language_keeping_history_and_held_out_pairs() -> None:
    pairs = (
        [_kind_pair(i, "text2code", "docstring") for i in range(4)]
        + [_kind_pair(10 + i, "code2code", "synthetic") for i in range(10)]
        + [_kind_pair(30 + i, "code2code", "history") for i in range(2)]
        + [_kind_pair(40 + i, "code2code", "synthetic", split="test") for i in range(5)]
        + [_kind_pair(50 + i, "code2code", "synthetic", language="go") for i in range(3)]
        + [_kind_pair(60, "text2code", "docstring", language="go")]
    )
    kept = balance_kinds(pairs, 1.0, seed=0)

    train_py_code = [p for p in kept if p.language == "python" and p.split == "train" and p.kind == "code2code"]
    assert len(train_py_code) == 4
    assert sum(p.source == "history" for p in train_py_code) == 2  # real changes go first
    assert sum(p.split == "test" for p in kept) == 5  # held-out pairs untouched
    assert sum(p.language == "go" and p.kind == "code2code" for p in kept) == 1  # per language
    assert balance_kinds(pairs, 1.0, seed=0) == kept  # deterministic
    assert balance_kinds(pairs, None) == pairs
    assert len([p for p in balance_kinds(pairs, 0.5) if p.language == "python" and p.kind == "code2code"]) == 2 + 5


def test_a_one_commit_repository_mines_no_history_pairs_and_says_so(tmp_path: Path) -> None:
    code = 'def f(x):\n    """Add numbers to x in turn."""\n' + "\n".join(f"    v{i} = x + {i}" for i in range(8))
    repo = make_repo(tmp_path, {"pkg/a.py": code + "\n    if v7 > 3:\n        return v7\n    return v7 * 2\n"})
    mined = mine_repository(Path(repo.working_tree_dir or ""), TrainConfig(min_code_chars=10))
    assert mined.commit == repo.head.commit.hexsha
    assert not [p for p in mined.pairs if p.source == "history"]
    assert mined.statistics["history_commits_scanned"] == 1
    assert mined.statistics["history_pairs_found"] == 0
    assert "one commit" in str(mined.statistics["history_note"]) and mined.warnings
    assert [p for p in mined.pairs if p.source == "synthetic"]  # synthetic edits stand in
    assert mined.statistics["synthetic_pairs_found"] == sum(mined.statistics["synthetic_kinds"].values())  # type: ignore[union-attr]


def test_history_mining_has_no_note_when_it_finds_pairs(tmp_path: Path) -> None:
    body = "\n".join(f"    v{i} = x + {i}" for i in range(8))
    repo = make_repo(tmp_path, {"pkg/a.py": f"def f(x):\n{body}\n    return v7\n"})
    commit(repo, {"pkg/a.py": f"def f(x):\n{body}\n    v8 = v7 * 2\n    return v8\n"})
    mined = mine_repository(Path(repo.working_tree_dir or ""), TrainConfig(min_code_chars=10))
    assert mined.statistics["history_pairs_found"] == 1 and "history_note" not in mined.statistics
