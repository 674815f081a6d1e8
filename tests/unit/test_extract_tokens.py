"""Tokens from tree-sitter leaves, and ``body_hash`` that ignores layout and comments only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from embedding.extract import Token, body_hash, code_tokens, extract_source, parse
from embedding.extract.functions import dedent
from embedding.extract.tokens import normalise_file, normalised_code


def test_python_tokens_have_kinds_and_no_comments() -> None:
    tokens = code_tokens("python", 'def f(a, b=None):\n    # note\n    return a + len("x y")  # tail\n')
    assert tokens == [
        Token("keyword", "def"), Token("identifier", "f"), Token("punct", "("), Token("identifier", "a"),
        Token("punct", ","), Token("identifier", "b"), Token("punct", "="), Token("literal", "None"),
        Token("punct", ")"), Token("punct", ":"), Token("keyword", "return"), Token("identifier", "a"),
        Token("punct", "+"), Token("identifier", "len"), Token("punct", "("), Token("literal", '"x y"'),
        Token("punct", ")"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("language", "code", "literal"),
    [
        ("javascript", "const s = `a ${b} c`; // x", "`a ${b} c`"),
        ("go", 'func f() string { return "hi" /* x */ }', '"hi"'),
        ("rust", 'fn f() -> &str { r#"raw"# } // x', 'r#"raw"#'),
        ("java", 'class A { String f() { return "j"; } } // x', '"j"'),
        ("php", 'function f() { return "p $x"; } # x', '"p $x"'),
        ("csharp", 'class A { string F() => $"c{x}"; } /// x', '$"c{x}"'),
        ("ruby", 'def f\n  "r #{x}" # x\nend', '"r #{x}"'),
        ("cpp", 'auto f() { return "c"; } // x', '"c"'),
    ],
)
def test_strings_are_one_literal_and_comments_are_dropped(language: str, code: str, literal: str) -> None:
    tokens = code_tokens(language, code)
    assert Token("literal", literal) in tokens
    assert not any(token.text.startswith(("//", "/*", "#")) and token.kind != "literal" for token in tokens)
    assert {token.kind for token in tokens} <= {"identifier", "literal", "keyword", "punct", "other"}
    assert any(token.kind == "identifier" for token in tokens)


def test_php_snippets_without_open_tag_are_code() -> None:
    texts = [token.text for token in code_tokens("php", "function f($a) { return $a + 1; }")]
    assert texts[:3] == ["function", "f", "("] and "<?php" not in texts


def test_unknown_language_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown language 'cobol'"):
        code_tokens("cobol", "x")


REFORMATTED = {
    "python": (
        "def total(items, tax):\n    s = sum(i.price for i in items)\n    return s * (1 + tax)\n",
        "def total(items,tax):\n    # sum them\n    s = sum(\n        i.price for i in items\n    )\n"
        "    return s*(1+tax)  # with tax\n",
    ),
    "javascript": (
        "function total(items, tax) {\n  const s = items.reduce((a, i) => a + i.price, 0);\n  return s * (1 + tax);\n}",
        "function total(items,tax){\n  /* sum */ const s=items.reduce((a,i)=>a+i.price,0);\n\n  return s*(1+tax); // t\n}",
    ),
    "go": (
        "func Total(items []Item) int {\n\tt := 0\n\tfor _, i := range items {\n\t\tt += i.Price\n\t}\n\treturn t\n}",
        "func Total(items []Item) int {\n    // running sum\n    t := 0\n    for _, i := range items { t += i.Price }\n"
        "    return t\n}",
    ),
    "java": (
        "public int twice(int x) {\n    int y = x * 2;\n    return y;\n}",
        "public int twice(int x)\n{\n    /** doubled */\n    int y = x*2;\n    return y;\n}",
    ),
    "rust": (
        "fn helper(x: i32) -> i32 {\n    let y = x * 2;\n    y\n}",
        "fn helper(x:i32)->i32{ let y=x*2; // twice\n y }",
    ),
}


@pytest.mark.parametrize("language", sorted(REFORMATTED))
def test_body_hash_ignores_layout_and_comments(language: str) -> None:
    original, reformatted = REFORMATTED[language]
    assert body_hash(language, original) == body_hash(language, reformatted)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("def f(a):\n    return a + 1\n", "def f(b):\n    return b + 1\n"),  # identifiers are kept
        ("def f(a):\n    return a + 1\n", "def f(a):\n    return a + 2\n"),
        ("def f(a):\n    return a + 1\n", "def f(a):\n    return a - 1\n"),
        ('def f():\n    return "x"\n', 'def f():\n    return "y"\n'),
        ("def f(a):\n    return not a\n", "def f(a):\n    return nota\n"),  # words stay apart
    ],
)
def test_body_hash_changes_with_the_code(before: str, after: str) -> None:
    assert body_hash("python", before) != body_hash("python", after)


def test_copies_in_different_layouts_share_the_body_hash_when_extracted() -> None:
    first = b"class A:\n    def f(self, a):\n        b = a * 2\n        return b\n"
    second = b"def f(self,a):\n    # doubled\n    b = a*2\n\n    return  b\n"
    (a,) = extract_source("a.py", first).functions
    (b,) = extract_source("b.py", second).functions
    assert a.body_hash == b.body_hash
    assert a.qualified_name == "A.f" and b.qualified_name == "f"


def test_importing_extract_does_not_import_torch() -> None:
    code = "import sys, embedding.extract; print('torch' in sys.modules)"
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo)
    assert out.stdout.strip() == "False"


def test_parse_reuses_one_parser_per_language() -> None:
    from embedding.extract.parsers import parser

    assert parser("go") is parser("go")
    assert parse("go", b"package x\n").root_node.type == "source_file"
    assert parse("tsx", b"const a = <b/>;\n").root_node.has_error is False


# --- the file-wide pass that keeps body hashes linear in nesting ------------------------------

_PIECES = st.sampled_from(["a", "b1", "é", "_", "(", ")", "{", "}", ";", ".", "+", '"', " ", "  ", "\t", "\n", "\r\n"])


@st.composite
def _file_with_comments_and_spans(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, int]], list[tuple[int, int]]]:
    """Random code-ish bytes, comments over some stretches, and spans (some nested) at char edges."""
    text = "".join(draw(st.lists(_PIECES, min_size=1, max_size=60)))
    edges = [len(text[:i].encode()) for i in range(len(text) + 1)]  # byte offsets of char boundaries
    cuts = sorted(draw(st.lists(st.sampled_from(edges), max_size=6, unique=True)))
    comments = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2) if cuts[i] < cuts[i + 1]]
    spans = [
        tuple(sorted(pair))
        for pair in draw(st.lists(st.tuples(st.sampled_from(edges), st.sampled_from(edges)), max_size=6))
    ]
    return text.encode(), comments, spans  # type: ignore[return-value]


def _in_range(comments: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    return [c for c in comments if c[1] > start and c[0] < end]


@settings(max_examples=400, deadline=None)
@given(_file_with_comments_and_spans())
def test_file_wide_normalisation_slices_equal_each_span_alone(
    case: tuple[bytes, list[tuple[int, int]], list[tuple[int, int]]],
) -> None:
    source, comments, spans = case
    whole = normalise_file(source, comments, spans)
    for start, end in spans:
        sliced = whole.between(start, end)
        assert sliced is None or sliced == normalised_code(source, start, end, _in_range(comments, start, end))


@settings(max_examples=400, deadline=None)
@given(_file_with_comments_and_spans(), st.data())
def test_file_wide_normalisation_with_a_cut_equals_the_span_alone(
    case: tuple[bytes, list[tuple[int, int]], list[tuple[int, int]]], data: st.DataObject
) -> None:
    """A cut inside a span (a Python docstring) joins the two sides as ``normalised_code`` would."""
    source, comments, spans = case
    for start, end in spans:
        inner = sorted(data.draw(st.tuples(st.integers(start, end), st.integers(start, end))))
        low, high = inner
        if any(source[:edge].decode("utf-8", "ignore").encode() != source[:edge] for edge in inner):
            continue  # not at a character boundary
        whole = normalise_file(source, comments, spans, (low, high))
        sliced = whole.between(start, end, (low, high))
        expected = normalised_code(source, start, end, [*_in_range(comments, start, end), (low, high)])
        assert sliced is None or sliced == expected


def test_file_wide_normalisation_keeps_token_edges() -> None:
    source = b"function f() { /* c */ return  a +\n b; }\nfunction g() {\n  return 1;\n}\n"
    comment = source.index(b"/*")
    comments = [(comment, comment + len(b"/* c */"))]
    f_end, g_start = source.index(b"}\n") + 1, source.index(b"function g")
    whole = normalise_file(source, comments, [(0, f_end), (g_start, len(source) - 1)])
    assert whole.between(0, f_end) == normalised_code(source, 0, f_end, comments) == "function f(){return a+b;}"
    assert whole.between(g_start, len(source) - 1) == "function g(){return 1;}"


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["", " ", "  ", "\t", " \t", "x", "y z", "\r"]), min_size=1, max_size=12))
def test_dedent_matches_textwrap(lines: list[str]) -> None:
    import textwrap

    text = "\n".join(lines)
    assert dedent(text) == textwrap.dedent(text)
    if not any(line and not line.strip(" \t") for line in lines):  # no line of only blanks: the shortcut
        assert dedent(text, blank_lines=False) == textwrap.dedent(text)
