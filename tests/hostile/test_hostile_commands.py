"""Hostile ``/similar`` comments: the parser never raises, bounds every argument and keeps its
messages short; the receiver answers such a comment instead of failing with a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import WEBHOOK_PATH, create_app
from bot.commands import Command, CommandKind, find_command, parse_command
from bot.commands.parse import (
    MAX_BODY_CHARS,
    MAX_COMMAND_CHARS,
    MAX_LINE_NUMBER,
    MAX_NAME_CHARS,
    MAX_PATH_CHARS,
    MAX_QUERY_CHARS,
)
from bot.webhooks.enqueue import RecordingEnqueuer
from tests.conftest_bot import FakeRedis, bot_settings, comment_payload, delivery_headers
from workers.tasks import names

# An error message quotes at most a short excerpt of what it refuses.
MAX_ERROR_CHARS = 300

# Hypothesis runs without its per-example deadline: a slow shared CPU must not fail a test.
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _invalid(command: Command | None) -> str:
    assert command is not None and command.kind is CommandKind.INVALID, command
    assert command.error is not None and len(command.error) <= MAX_ERROR_CHARS, command.error
    return command.error


# --- line numbers ----------------------------------------------------------------------------


def test_superscript_digit_line_number_is_invalid_not_an_exception() -> None:
    _invalid(find_command("/similar a.py:²"))


def test_non_ascii_decimal_digits_are_not_line_numbers() -> None:
    # Arabic-Indic digits pass str.isdigit() and int() reads them; a line number is ASCII only.
    _invalid(find_command("/similar a.py:١٢"))


def test_five_thousand_digit_line_number_is_refused() -> None:
    _invalid(find_command("/similar a.py:" + "9" * 5000))


def test_a_line_number_of_thousands_of_digits_is_refused_with_the_bound() -> None:
    # Under the command-length bound and near int()'s 4,300-digit limit: refused before any int().
    error = _invalid(find_command("/similar a.py:" + "9" * (MAX_COMMAND_CHARS - 20)))
    assert f"{MAX_LINE_NUMBER:,}" in error


def test_line_number_above_the_bound_is_refused() -> None:
    assert parse_command(f"/similar a.py:{MAX_LINE_NUMBER}") == Command(
        CommandKind.AT, path="a.py", line=MAX_LINE_NUMBER
    )
    _invalid(parse_command(f"/similar a.py:{MAX_LINE_NUMBER + 1}"))


# --- argument lengths ------------------------------------------------------------------------


def test_sixty_thousand_character_name_is_refused() -> None:
    error = _invalid(find_command("/similar " + "x" * 60_000))
    assert f"{MAX_COMMAND_CHARS:,}" in error


def test_name_longer_than_the_name_limit_is_refused() -> None:
    assert parse_command("/similar " + "f" * MAX_NAME_CHARS).kind is CommandKind.FUNCTION
    error = _invalid(parse_command("/similar " + "f" * (MAX_NAME_CHARS + 1)))
    assert f"{MAX_NAME_CHARS:,}" in error


def test_function_after_a_path_longer_than_the_name_limit_is_refused() -> None:
    error = _invalid(parse_command("/similar a.py:" + "f" * (MAX_NAME_CHARS + 1)))
    assert f"{MAX_NAME_CHARS:,}" in error


def test_path_longer_than_the_path_limit_is_refused() -> None:
    path = "/".join(["d" * 99] * (MAX_PATH_CHARS // 100 + 1))
    assert len(path) > MAX_PATH_CHARS
    error = _invalid(parse_command(f"/similar {path}:f"))
    assert f"{MAX_PATH_CHARS:,}" in error


def test_errors_quote_only_a_short_excerpt_of_the_argument() -> None:
    for line in (
        "/similar " + "%" * 1000,
        "/similar a.py:" + "-" * 1000,
        "/similar " + "../" * 300 + "a.py:1",
        "/similarity" + "y" * 3000,
        "/similar two " + "w" * 1000,
    ):
        _invalid(parse_command(line))


# --- the body scanned ------------------------------------------------------------------------


def test_only_the_first_body_chars_are_scanned() -> None:
    assert find_command("x" * MAX_BODY_CHARS + "\n/similar help") is None
    assert find_command("x" * (MAX_BODY_CHARS - 20) + "\n/similar help") == Command(CommandKind.HELP)


def test_a_command_line_cut_by_the_scan_bound_is_not_read() -> None:
    # Cut mid-line, "/similar helper" would read as "/similar help": the cut line is dropped.
    body = "x" * (MAX_BODY_CHARS - len("/similar help") - 1) + "\n/similar helper_function"
    assert find_command(body) is None


def test_a_rust_path_qualified_name_without_a_file_is_a_function() -> None:
    assert parse_command("/similar Parser::parse") == Command(CommandKind.FUNCTION, function="Parser::parse")


# --- properties ------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    ["/similar", "/similar ", " ", "\t", "\n", "\r\n", "```", "~~~", "> ", ":", "::", "/", "..", '"', "'", "\\",
     "²", "١", "9" * 12, "a.py", "help", "#", "$", "\x00", "\u2028", "\x85", "\ud800"]
)  # fmt: skip
# Digits of every script (superscripts read as digits by str.isdigit, not by int) and runs long
# enough to pass int()'s 4,300-digit limit.
_DIGITS = st.one_of(
    st.text(st.characters(categories=("Nd", "No")), min_size=1, max_size=8),
    st.sampled_from(["²", "¹²", "١٢", "𝟗"]),
    st.integers(1, 6000).map(lambda n: "9" * n),
)
_TARGETS = st.builds(
    lambda path, sep, tail: f"/similar {path}{sep}{tail}",
    st.sampled_from(["", "a.py", "pkg/a.py", "::", "../a.py"]) | st.text(max_size=6),
    st.sampled_from(["", ":", "::"]),
    _DIGITS | st.text(max_size=6000),
)
_BODIES = st.one_of(
    st.text(),
    st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=40).map("".join),
    st.lists(st.one_of(_TARGETS, _PIECES), max_size=4).map("\n".join),
)


@PROPERTY
@given(_BODIES)
def test_find_command_never_raises_and_bounds_what_it_returns(body: str) -> None:
    command = find_command(body)
    assert command is None or isinstance(command, Command)
    if command is not None:
        _check_bounded(command)


@PROPERTY
@given(st.one_of(_BODIES, _BODIES.map(lambda text: "/similar " + text)))
def test_parse_command_never_raises_and_bounds_what_it_returns(line: str) -> None:
    _check_bounded(parse_command(line))


def _check_bounded(command: Command) -> None:
    assert command.path is None or len(command.path) <= MAX_PATH_CHARS
    assert command.function is None or len(command.function) <= MAX_NAME_CHARS
    assert command.query is None or len(command.query) <= MAX_QUERY_CHARS
    assert command.line is None or 1 <= command.line <= MAX_LINE_NUMBER
    assert command.error is None or len(command.error) <= MAX_ERROR_CHARS
    assert (command.kind is CommandKind.INVALID) == (command.error is not None)
    assert Command.from_dict(json.loads(json.dumps(command.to_dict()))) == command


_SEGMENT = st.from_regex(r"[A-Za-z0-9_.@%+=,-]{1,24}", fullmatch=True).filter(lambda s: s not in (".", ".."))
_PATHS = st.lists(_SEGMENT, min_size=1, max_size=6).map("/".join).filter(lambda p: len(p) <= MAX_PATH_CHARS)
_NAME_PART = r"[A-Za-z_$][A-Za-z0-9_$]{0,24}"
_NAMES = st.from_regex(rf"{_NAME_PART}(?:(?:\.|::|#){_NAME_PART}){{0,3}}", fullmatch=True)
_WORDS = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=12)
_VALID = st.one_of(
    st.sampled_from([Command(k) for k in (CommandKind.CHANGED, CommandKind.HELP, CommandKind.CONFIG, CommandKind.IGNORE)]),
    st.builds(lambda name: Command(CommandKind.FUNCTION, function=name), _NAMES.filter(lambda n: n.lower() not in ("help", "config", "ignore"))),
    st.builds(lambda path, name: Command(CommandKind.FUNCTION, path=path, function=name), _PATHS, _NAMES),
    st.builds(lambda path, n: Command(CommandKind.AT, path=path, line=n), _PATHS, st.integers(1, MAX_LINE_NUMBER)),
    st.builds(
        lambda words: Command(CommandKind.QUERY, query=" ".join(words)),
        st.lists(_WORDS.filter(lambda w: w.split() == [w]), min_size=1, max_size=20),
    ).filter(lambda c: len(c.query or "") <= MAX_QUERY_CHARS),
)  # fmt: skip


def _command_text(command: Command) -> str:
    """The comment a user would write for ``command`` (the inverse of the parser, for valid ones)."""
    if command.kind is CommandKind.CHANGED:
        return "/similar"
    if command.kind in (CommandKind.HELP, CommandKind.CONFIG, CommandKind.IGNORE):
        return f"/similar {command.kind.value}"
    if command.kind is CommandKind.QUERY:
        assert command.query is not None
        return '/similar "' + command.query.replace("\\", "\\\\").replace('"', '\\"') + '"'
    target = str(command.line) if command.kind is CommandKind.AT else command.function
    return f"/similar {command.path}:{target}" if command.path else f"/similar {target}"


@PROPERTY
@given(_VALID)
def test_valid_commands_round_trip_through_their_text(command: Command) -> None:
    text = _command_text(command)
    assert parse_command(text) == command
    assert find_command(f"Could you look?\n\n{text}\n") == command


# --- through the receiver --------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[tuple[TestClient, RecordingEnqueuer]]:
    enqueuer = RecordingEnqueuer()
    app = create_app(bot_settings(), enqueuer=enqueuer, redis=FakeRedis())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, enqueuer


@pytest.mark.parametrize("body", ["/similar a.py:²", "/similar a.py:" + "9" * 5000], ids=["superscript", "5000_digits"])
def test_receiver_answers_a_bad_line_number_instead_of_500(
    receiver: tuple[TestClient, RecordingEnqueuer], body: str
) -> None:
    client, enqueuer = receiver
    payload = comment_payload(body)
    payload["comment"]["author_association"] = "OWNER"  # a commenter who may run commands
    raw = json.dumps(payload).encode()
    response = client.post(WEBHOOK_PATH, content=raw, headers=delivery_headers("issue_comment", raw))
    assert response.status_code == 202, response.text
    [job] = enqueuer.jobs
    assert job.task == names.REPLY_COMMAND
    assert job.kwargs["command"]["kind"] == CommandKind.INVALID.value
