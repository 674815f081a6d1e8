"""Lexical similarity over identifier-normalised tokens."""

from __future__ import annotations

import pytest

from embedding.lexical import dice, lexical_similarity, literal_class, normalize, normalize_tokens

ORIGINAL = """def total_price(items, tax_rate):
    subtotal = 0
    for item in items:
        subtotal += item.price * item.quantity
    tax = subtotal * tax_rate
    return round(subtotal + tax, 2)
"""
RENAMED = """def order_sum(lines, rate):
    acc = 0
    for line in lines:
        acc += line.price * line.quantity
    extra = acc * rate
    return round(acc + extra, 2)
"""
RELAYOUT = """def total_price(items,tax_rate):
    subtotal=0
    for item in items:  # every item
        subtotal+=item.price*item.quantity

    tax=subtotal*tax_rate
    return round(subtotal+tax,2)
"""
UNRELATED = """def parse_header(line):
    name, _, value = line.partition(":")
    if not name:
        raise ValueError("empty header name")
    return name.strip().lower(), value.strip()
"""


def test_renaming_and_layout_leave_the_similarity_at_one() -> None:
    assert lexical_similarity("python", ORIGINAL, RENAMED) == pytest.approx(1.0)
    assert lexical_similarity("python", ORIGINAL, RELAYOUT) == pytest.approx(1.0)


def test_changed_literals_do_not_count() -> None:
    changed = ORIGINAL.replace("2)", "4)").replace("= 0", "= 1")
    assert lexical_similarity("python", ORIGINAL, changed) == pytest.approx(1.0)


def test_an_inserted_statement_costs_a_little() -> None:
    edited = RENAMED.replace("    extra =", "    print(acc)\n    extra =")
    score = lexical_similarity("python", ORIGINAL, edited)
    assert 0.7 < score < 1.0


def test_unrelated_functions_score_low() -> None:
    assert lexical_similarity("python", ORIGINAL, UNRELATED) < 0.3


def test_member_names_and_callees_are_kept() -> None:
    a = "def f(x):\n    return x.upper()\n"
    b = "def f(x):\n    return x.lower()\n"
    assert lexical_similarity("python", a, b) < 1.0
    assert normalize("python", a).shape == ("def", "$", "(", "$", ")", ":", "return", "$", ".", "upper", "(", ")")


def test_literals_are_classed_by_type() -> None:
    assert literal_class('"hello"') == "STR"
    assert literal_class("f'{x}'") == "STR"
    assert literal_class("b'raw'") == "STR"
    assert literal_class("'c'") == "STR"
    assert literal_class("42") == "NUM"
    assert literal_class("0x1F") == "NUM"
    assert literal_class("3.5e-2") == "NUM"
    assert literal_class("None") == "None"
    assert literal_class("true") == "true"


def test_normalize_tokens_is_tokenizer_agnostic() -> None:
    tokens = [("keyword", "func"), ("identifier", "add"), ("punct", "("), ("identifier", "a"), ("punct", ")"),
              ("punct", "{"), ("keyword", "return"), ("identifier", "a"), ("punct", "+"), ("literal", "1"),
              ("punct", "}")]  # fmt: skip
    normalized = normalize_tokens(tokens)
    assert normalized.shape == ("func", "$", "(", "$", ")", "{", "return", "$", "+", "NUM", "}")


@pytest.mark.parametrize(
    ("language", "a", "b"),
    [
        (
            "go",
            "func Sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total\n}",
            "func Add(vals []int) int {\n\tacc := 0\n\tfor _, v := range vals {\n\t\tacc += v\n\t}\n\treturn acc\n}",
        ),
        (
            "javascript",
            "function sum(xs) {\n  let t = 0;\n  for (const x of xs) { t += x; }\n  return t;\n}",
            "function add(vals) {\n  let acc = 0;\n  for (const v of vals) { acc += v; }\n  return acc;\n}",
        ),
    ],
)
def test_renamed_copies_in_other_languages_score_one(language: str, a: str, b: str) -> None:
    assert lexical_similarity(language, a, b) == pytest.approx(1.0)


def test_dice_of_empty_multisets_is_one() -> None:
    from collections import Counter

    assert dice(Counter(), Counter()) == 1.0
    assert dice(Counter({("a",): 2}), Counter({("a",): 1, ("b",): 1})) == pytest.approx(0.5)


def test_keyword_argument_names_are_kept_but_default_parameters_are_not() -> None:
    normalized = normalize("python", "def f(limit=3):\n    return g(key=limit)\n")
    assert normalized.shape == ("def", "$", "(", "$", "=", "NUM", ")", ":", "return", "g()", "(", "key", "=", "$", ")")
