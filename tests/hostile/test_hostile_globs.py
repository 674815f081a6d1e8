"""Hostile ``ignore`` globs: ``.github/doppel.yml`` is written by whoever can push, and each of its
globs is matched against every path of the repository. Matching costs steps polynomial in pattern
× path length (counted by ``Glob.cost``, never timed), gives the same answers as a plain reference,
and the config reader caps how many globs there are and how long each is."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from embedding.extract.globs import compile_glob, first_match
from workers.services.repo_config import MAX_GLOB_CHARS, MAX_IGNORE_GLOBS, parse_repo_config

PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_MESSAGE_CHARS = 300


def _bound(pattern: str, path: str) -> int:
    """The steps a match may take: a constant times (pattern length + the 4 characters of the
    implied ``**/`` and ``/**``) × (path length + 1)."""
    return 8 * (len(pattern) + 4) * (len(path) + 1)


def _cost(pattern: str, path: str) -> tuple[bool, int]:
    return compile_glob(pattern).cost(path)


# --- the reviewer's probes ---------------------------------------------------------------------

NESTED = "a*a*/a*a*/a*a*/a*a*/a*a*/a*a*/z"  # 13 s through the regex, exponential in the segments


def test_stars_in_six_segments_against_eight_long_segments_answer_in_polynomial_steps() -> None:
    path = "/".join(["a" * 30] * 8)
    matched, steps = _cost(NESTED, path)
    assert matched is False
    assert steps <= _bound(NESTED, path)
    assert first_match(path, (NESTED,)) is None


def test_stars_in_six_segments_still_match_what_they_should() -> None:
    hit = "/".join(["a" * 30] * 6 + ["z"])
    miss_depth = "/".join(["a" * 30] * 7 + ["z"])  # one segment too many: ``*`` never crosses "/"
    miss_letter = "/".join(["a" * 30] * 5 + ["b" + "a" * 29, "z"])  # a segment not starting with a
    for path, expected in ((hit, True), (miss_depth, False), (miss_letter, False)):
        matched, steps = _cost(NESTED, path)
        assert matched is expected, path
        assert steps <= _bound(NESTED, path)


def test_steps_for_more_starred_segments_grow_polynomially_not_exponentially() -> None:
    # Doubling the segments of pattern and path at most quadruples the steps (the regex took
    # ~30 times longer per added segment).
    costs = []
    for depth in (4, 8, 16, 32):
        pattern = "/".join(["a*a*"] * depth + ["z"])
        path = "/".join(["a" * 30] * (depth + 2))
        matched, steps = _cost(pattern, path)
        assert matched is False and steps <= _bound(pattern, path)
        costs.append(steps)
    assert all(later <= 4 * earlier for earlier, later in zip(costs, costs[1:], strict=False))


MANY_STARS = "*a*a*a*a*b"  # 3 s through the regex against 200 characters


def test_many_stars_in_one_name_answer_in_polynomial_steps() -> None:
    for path, expected in (
        ("a" * 200, False),
        ("a" * 1000, False),  # the regex: about 5**4 times the 3 s
        ("a" * 199 + "b", True),
        ("src/" + "a" * 199 + "b", True),  # a bare name matches in any folder
        ("b" + "a" * 3 + "b" * 196, False),  # ends in b, but only three a's before it
        ("ab" * 100, True),
    ):
        matched, steps = _cost(MANY_STARS, path)
        assert matched is expected, path
        assert steps <= _bound(MANY_STARS, path)


def test_a_hundred_stars_against_a_long_name_answer_in_polynomial_steps() -> None:
    pattern = "*a" * 100 + "*b"
    for path, expected in (("a" * 250, False), ("a" * 100 + "b", True), ("a" * 99 + "b", False)):
        matched, steps = _cost(pattern, path)
        assert matched is expected
        assert steps <= _bound(pattern, path)


def test_many_double_stars_answer_in_polynomial_steps() -> None:
    pattern = "/".join(["**"] * 20 + ["z"])
    path = "/".join(["a"] * 60)
    matched, steps = _cost(pattern, path)
    assert matched is False and steps <= _bound(pattern, path)
    assert _cost(pattern, path + "/z")[0] is True


# --- what the regex got wrong on hostile input -------------------------------------------------


def test_a_reversed_class_range_matches_nothing_instead_of_raising() -> None:
    # The regex raised re.error ("bad character range") in the middle of a review.
    assert first_match("lib/b.py", ("[z-a].py", "**/*.py")) == "**/*.py"
    assert first_match("lib/-.py", ("[z-a].py",)) is None


def test_a_negated_class_that_starts_with_a_dash_keeps_the_dash_literal() -> None:
    # The regex spliced "[^/" before "-x]", which made a range from "/" to "x" that kept "a" out.
    assert first_match("a", ("[!-x]",)) == "[!-x]"
    assert first_match("x", ("[!-x]",)) is None
    assert first_match("-", ("[!-x]",)) is None


def test_a_trailing_double_star_covers_names_with_a_newline() -> None:
    # Git allows a newline in a file name; ".*" did not match it, so such files escaped "docs/**".
    assert first_match("docs/evil\nname.py", ("docs/**",)) == "docs/**"
    assert first_match("docs/a\nb/c.py", ("docs/",)) == "docs/"


# --- the config reader's caps ------------------------------------------------------------------


def _refused(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_repo_config(text)
    message = str(caught.value)
    assert len(message) <= MAX_MESSAGE_CHARS, message[:500]
    return message


def test_more_ignore_globs_than_the_cap_is_a_config_error_with_its_line() -> None:
    globs = ", ".join(f'"dir{i}/**"' for i in range(MAX_IGNORE_GLOBS + 1))
    message = _refused(f"max_comments: 3\nignore: [{globs}]\n")
    assert "'ignore'" in message and "line 2" in message
    assert f"{MAX_IGNORE_GLOBS + 1:,} globs" in message and str(MAX_IGNORE_GLOBS) in message


def test_ignore_globs_at_the_cap_are_read() -> None:
    globs = [f"dir{i}/**" for i in range(MAX_IGNORE_GLOBS)]
    config = parse_repo_config("ignore: [" + ", ".join(globs) + "]\n")
    assert config.ignore == tuple(globs)


def test_an_ignore_glob_longer_than_the_cap_is_a_config_error_with_a_short_excerpt() -> None:
    long = "a*" * (MAX_GLOB_CHARS // 2) + "b"
    message = _refused(f'languages: [python]\nignore: ["docs/**", "{long}"]\n')
    assert "'ignore'" in message and "line 2" in message
    assert f"{len(long):,} characters" in message and str(MAX_GLOB_CHARS) in message
    assert long not in message


def test_an_ignore_glob_at_the_length_cap_is_read() -> None:
    glob = "docs/" + "x" * (MAX_GLOB_CHARS - 5)
    assert len(glob) == MAX_GLOB_CHARS
    assert parse_repo_config(f"ignore: [{glob}]\n").ignore == (glob,)


# --- agreement with a plain reference ----------------------------------------------------------


def _reference_segments(pattern: str) -> list[str]:
    """The segments ``pattern`` stands for, by the rules the module documents."""
    pattern = pattern.strip().replace("\\", "/").removeprefix("./")
    if "/" not in pattern.rstrip("/"):
        pattern = "**/" + pattern
    if pattern.endswith("/"):
        pattern += "**"
    return pattern.lstrip("/").split("/")


def _reference(segments: list[str], parts: list[str]) -> bool:
    """Backtracking, fine for small inputs: ``**`` last takes whatever is left (at least one,
    possibly empty, segment), elsewhere zero or more non-empty segments; any other segment is
    ``fnmatchcase`` on exactly one path segment."""
    if not segments:
        return not parts
    head, rest = segments[0], segments[1:]
    if head == "**":
        if not rest:
            return bool(parts)
        return _reference(rest, parts) or (len(parts) > 1 and parts[0] != "" and _reference(segments, parts[1:]))
    return bool(parts) and fnmatchcase(parts[0], head) and _reference(rest, parts[1:])


# Tokens on which doppel's classes and fnmatch's agree.
_PATTERN_TOKENS = st.sampled_from(["a", "b", ".", "*", "?", "[ab]", "[!a]", "[a-c]", "/", "**", "/**/"])
_PATH_CHARS = st.sampled_from(["a", "b", "c", ".", "/", "\n"])
PATHS = st.lists(_PATH_CHARS, max_size=10).map("".join)


# What each token may stand for, so that about half the drawn paths are meant to match.
_FILLS = {
    "*": ["", "a", "ab", "b.c"],
    "?": ["a", "c", "."],
    "[ab]": ["a", "b"],
    "[!a]": ["b", "."],
    "[a-c]": ["a", "c"],
    "**": ["", "a", "a/b", "ab/c"],
    "/**/": ["/", "/a/", "/a/b/", "//"],
}


@st.composite
def _pattern_and_path(draw: st.DrawFn) -> tuple[str, str]:
    tokens = draw(st.lists(_PATTERN_TOKENS, min_size=1, max_size=8))
    if draw(st.booleans()):
        path = draw(PATHS)
    else:
        path = "".join(draw(st.sampled_from(_FILLS.get(t, [t]))) for t in tokens)
        if draw(st.booleans()):
            path = draw(st.sampled_from(["", "x/", "a/b/"])) + path
    return "".join(tokens), path


@PROPERTY
@given(case=_pattern_and_path())
def test_matcher_agrees_with_a_per_segment_fnmatch_reference(case: tuple[str, str]) -> None:
    pattern, path = case
    expected = _reference(_reference_segments(pattern), path.split("/"))
    matched, steps = _cost(pattern, path)
    assert matched is expected
    assert steps <= _bound(pattern, path)


# Anything at all, classes with ranges, "!", "^", "-", "]" and unclosed "[" included.
_ANY_PATTERN_CHARS = st.sampled_from(list("ab*?[]!-^/\\.z\n") + ["**", "[!", "[]", "a-"])
ANY_PATTERNS = st.lists(_ANY_PATTERN_CHARS, max_size=10).map("".join).filter(lambda p: p.strip() != "")
ANY_PATHS = st.lists(st.sampled_from(list("ab-^]![z/\n.")), max_size=10).map("".join)


@st.composite
def _any_pattern_and_path(draw: st.DrawFn) -> tuple[str, str]:
    pattern = draw(ANY_PATTERNS)
    if draw(st.booleans()):
        return pattern, draw(ANY_PATHS)
    return pattern, pattern.replace("**", "a/b").replace("*", "ab").replace("?", "z")  # often a match


@PROPERTY
@given(case=_any_pattern_and_path())
def test_matcher_agrees_with_its_regex_on_any_small_pattern(case: tuple[str, str]) -> None:
    pattern, path = case
    glob = compile_glob(pattern)
    matched, steps = glob.cost(path)
    assert matched is (re.fullmatch(glob.regex(), path) is not None), glob.regex()
    assert steps <= _bound(pattern, path)


@PROPERTY
@given(
    folder=st.text(alphabet="ab.", max_size=3),
    name=st.lists(st.sampled_from(["a", "b", "*", "?", "[ab]", "."]), max_size=4).map("".join),
    path=st.lists(st.sampled_from(["a", "b", "ab", "", ".", "a.b"]), min_size=1, max_size=6).map("/".join),
)
def test_shortcuts_for_any_folder_globs_agree_with_the_reference(folder: str, name: str, path: str) -> None:
    # "**/folder/**" and "**/name" (every default exclude glob) take a shortcut past the DP.
    for pattern in (f"**/{folder}/**", f"**/{name}", f"{folder}/"):
        expected = _reference(_reference_segments(pattern), path.split("/"))
        matched, steps = _cost(pattern, path)
        assert matched is expected, pattern
        assert steps <= _bound(pattern, path)
