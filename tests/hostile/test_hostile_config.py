"""Hostile ``.github/doppel.yml`` files: every one gives a ``ConfigError`` that says what is wrong
(with its line when there is one), quotes at most a short excerpt, and costs bounded work."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from workers.services.repo_config import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, RepoConfig, parse_repo_config

MAX_MESSAGE_CHARS = 300  # the source, the key, the problem and an excerpt of at most ~80 characters
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _refused(text: str | bytes) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_repo_config(text)
    message = str(caught.value)
    assert len(message) <= MAX_MESSAGE_CHARS, message[:500]
    return message


# --- size ------------------------------------------------------------------------------------


def test_config_file_over_the_size_cap_is_refused() -> None:
    text = "max_comments: 3\n" + "#" * MAX_CONFIG_BYTES + "\n"
    message = _refused(text)
    assert f"{MAX_CONFIG_BYTES:,}" in message


def test_config_size_cap_counts_bytes_not_characters() -> None:
    text = "# " + "é" * (MAX_CONFIG_BYTES // 2 + 1) + "\n"  # fewer characters than the cap, more bytes
    assert len(text) < MAX_CONFIG_BYTES < len(text.encode())
    assert f"{MAX_CONFIG_BYTES:,}" in _refused(text)
    assert f"{MAX_CONFIG_BYTES:,}" in _refused(text.encode())


def test_config_file_at_the_size_cap_is_read() -> None:
    text = "max_comments: 3\n"
    text += "#" * (MAX_CONFIG_BYTES - len(text) - 1) + "\n"
    assert len(text.encode()) == MAX_CONFIG_BYTES
    assert parse_repo_config(text).max_comments == 3


# --- aliases ---------------------------------------------------------------------------------

# The probe of issue 10: a few hundred bytes that expand to 9**9 strings, whose repr() went into the
# message about 'ignore' (2.9 GB).
BILLION_LAUGHS = (
    "ignore: [&a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"
    + "".join(f", &{name} [{', '.join([f'*{prev}'] * 9)}]" for prev, name in zip("abcdefgh", "bcdefghi", strict=True))
    + "]\n"
)


def test_billion_laughs_is_refused_before_it_expands() -> None:
    assert len(BILLION_LAUGHS.encode()) < 600
    message = _refused(BILLION_LAUGHS)
    assert "line 1" in message and "alias" in message


def test_an_alias_is_refused_with_its_line() -> None:
    message = _refused("ignore: [docs/**]\nlanguages: [python]\nevents: *x\n")
    assert "line 3" in message and "alias" in message


def test_an_anchor_is_refused_with_its_line() -> None:
    message = _refused("max_comments: 3\nignore: &globs [docs/**]\n")
    assert "line 2" in message and "anchor" in message


# --- nesting ---------------------------------------------------------------------------------


def test_five_thousand_nested_lists_give_a_config_error_not_a_recursion_error() -> None:
    message = _refused("ignore: " + "[" * 5000 + "]" * 5000 + "\n")
    assert f"{MAX_CONFIG_DEPTH}" in message and "line 1" in message


def test_deep_block_mappings_give_a_config_error() -> None:
    text = "thresholds:\n" + "".join("  " * depth + f"k{depth}:\n" for depth in range(1, MAX_CONFIG_DEPTH + 2))
    message = _refused(text)
    assert f"line {MAX_CONFIG_DEPTH + 1}" in message  # where the first mapping too deep begins


def test_nesting_within_the_limit_is_judged_by_the_schema() -> None:
    message = _refused("ignore: [[[x]]]\n")
    assert "'ignore' must be a list of non-empty strings" in message


# --- values the YAML constructors choke on ---------------------------------------------------


def test_an_integer_of_five_thousand_digits_is_a_config_error() -> None:
    message = _refused("max_comments: " + "9" * 5000 + "\n")
    assert "line 1" in message


def test_an_impossible_date_is_a_config_error_with_its_line() -> None:
    message = _refused("events:\n  - opened\n  - 2001-13-45\n")
    assert "line 3" in message and "month" in message


def test_a_list_as_strictness_is_a_config_error() -> None:
    assert "'strictness'" in _refused("strictness: [strict]\n")


# --- messages --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "strictness: " + "x" * 20_000,
        "max_comments: " + "x" * 20_000,
        "ignore_tests: " + "x" * 20_000,
        "languages: [" + ", ".join(["[1]"] * 5000) + "]",
        "events: [" + ", ".join(["bogus"] * 5000) + "]",
        "thresholds: {" + ", ".join(f"k{i}: 1" for i in range(3000)) + "}",
        "thresholds: {duplicate: " + "7" * 4000 + "}",
        "x" * 20_000 + ": 1",
        "\n".join(f"key{i}: 1" for i in range(3000)),
        "max_comments: !" + "t" * 20_000 + " 1",
        "ignore: [a, " + "b" * 20_000,
        "ignore: '" + "q" * 20_000,
        "max_comments: 3\n\x00" + "z" * 20_000,
        "max_comments: 0x" + "f" * 20_000,
        "0x" + "f" * 1000 + ": 1",
    ],
    ids=[
        "strictness", "max_comments", "ignore_tests", "languages", "events", "threshold_keys", "threshold_value",
        "long_key", "many_keys", "long_tag", "unclosed_flow", "unclosed_quote", "nul_byte", "hex_value", "hex_key",
    ],
)  # fmt: skip
def test_messages_quote_at_most_a_short_excerpt(text: str) -> None:
    _refused(text)


def test_a_bad_value_names_the_line_of_its_key() -> None:
    message = _refused("# doppel settings\nlanguages: [python]\n\nmax_comments: 500\n")
    assert "line 4" in message and "'max_comments'" in message


def test_a_control_character_names_its_line() -> None:
    message = _refused("max_comments: 3\nignore: [a]\x00\n")
    assert "line 2" in message and "#x0000" in message


def test_a_syntax_error_names_its_line() -> None:
    message = _refused("ignore: [docs/**\nmax_comments: 3\n")
    assert "not valid YAML" in message and "line 2" in message


# --- properties ------------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30), st.dates()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_KEYS = st.sampled_from(
    ["languages", "ignore", "ignore_tests", "strictness", "thresholds", "max_comments", "events", "duplicate"]
)
_DOCUMENTS = st.dictionaries(_KEYS, _VALUES, max_size=4).map(lambda d: yaml.safe_dump(d, allow_unicode=True))
_PIECES = st.sampled_from(
    ["&a ", "*a", "<<: *a", "[", "]", "{", "}", "- ", ": ", "\n", "  ", "!!", "!x ", "?", "'", '"', "#", "|", ">",
     "9" * 5000, "2001-13-45", "\x00", "\ufeff", "%YAML 1.1\n", "---\n", "...\n", "max_comments", "thresholds"]
)  # fmt: skip
_TEXTS = st.one_of(st.text(), _DOCUMENTS, st.lists(st.one_of(_PIECES, st.text(max_size=6)), max_size=30).map("".join))


@PROPERTY
@given(_TEXTS)
def test_any_text_gives_a_config_or_a_short_config_error(text: str) -> None:
    try:
        config = parse_repo_config(text)
    except ConfigError as exc:
        assert len(str(exc)) <= MAX_MESSAGE_CHARS, str(exc)[:500]
    else:
        assert isinstance(config, RepoConfig)
