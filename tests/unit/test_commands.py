"""``/similar`` command parsing: every form, the bad ones, and where commands are looked for."""

from __future__ import annotations

import pytest

from bot.commands import Command, CommandKind, find_command, parse_command
from bot.commands.parse import MAX_QUERY_CHARS
from core.commands import HELP_TEXT


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/similar", Command(CommandKind.CHANGED)),
        ("  /similar   ", Command(CommandKind.CHANGED)),
        ("/similar help", Command(CommandKind.HELP)),
        ("/similar HELP", Command(CommandKind.HELP)),
        ("/similar config", Command(CommandKind.CONFIG)),
        ("/similar ignore", Command(CommandKind.IGNORE)),
        ("/similar pkg/io.py:read_all", Command(CommandKind.FUNCTION, path="pkg/io.py", function="read_all")),
        ("/similar pkg/io.py:Reader.read", Command(CommandKind.FUNCTION, path="pkg/io.py", function="Reader.read")),
        (
            "/similar src/lib.rs:Parser::parse",
            Command(CommandKind.FUNCTION, path="src/lib.rs", function="Parser::parse"),
        ),
        ("/similar pkg/io.py:42", Command(CommandKind.AT, path="pkg/io.py", line=42)),
        ("/similar /pkg/io.py:3", Command(CommandKind.AT, path="pkg/io.py", line=3)),
        ("/similar read_all", Command(CommandKind.FUNCTION, function="read_all")),
        (
            '/similar "retry with exponential backoff"',
            Command(CommandKind.QUERY, query="retry with exponential backoff"),
        ),
        ("/similar 'parse a date'", Command(CommandKind.QUERY, query="parse a date")),
        ('/similar "don\'t   repeat  yourself"', Command(CommandKind.QUERY, query="don't repeat yourself")),
    ],
)
def test_parse_command_forms(line: str, expected: Command) -> None:
    assert parse_command(line) == expected


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('/similar "unterminated', "closing quote"),
        ('/similar ""', "empty"),
        ('/similar "a" "b"', "one pair of quotes"),
        ("/similar two words", "one argument"),
        ("/similar ../etc/passwd:1", "repository-relative"),
        ("/similar pkg/./io.py:f", "repository-relative"),
        ("/similar pkg/io.py:0", "start at 1"),
        ("/similar pkg/io.py:not-a-name", "not a function name"),
        ("/similar %%%", "neither"),
        ("/similarity", "unknown command"),
    ],
)
def test_parse_command_rejects_with_a_reason(line: str, fragment: str) -> None:
    command = parse_command(line)
    assert command.kind is CommandKind.INVALID
    assert command.error is not None and fragment in command.error


def test_query_length_is_capped() -> None:
    too_long = '/similar "' + "x" * (MAX_QUERY_CHARS + 1) + '"'
    command = parse_command(too_long)
    assert command.kind is CommandKind.INVALID and str(MAX_QUERY_CHARS) in (command.error or "")


def test_find_command_takes_the_first_command_line() -> None:
    body = "Thanks!\n\n/similar pkg/a.py:f\n/similar help\n"
    assert find_command(body) == Command(CommandKind.FUNCTION, path="pkg/a.py", function="f")


@pytest.mark.parametrize(
    "body",
    [
        None,
        "",
        "no command here",
        "see /similar inline, not at the start of a line",
        "> /similar\n> quoted from someone else",
        "```\n/similar\n```",
        "~~~text\n/similar help\n~~~",
        "/similarity is a nice word",
    ],
)
def test_find_command_ignores_bodies_without_a_command(body: str | None) -> None:
    assert find_command(body) is None


def test_find_command_after_a_closed_fence() -> None:
    body = "```\n/similar help\n```\n/similar config"
    assert find_command(body) == Command(CommandKind.CONFIG)


def test_find_command_reports_invalid_usage() -> None:
    command = find_command("/similar two words")
    assert command is not None and command.kind is CommandKind.INVALID


@pytest.mark.parametrize(
    "command",
    [
        Command(CommandKind.CHANGED),
        Command(CommandKind.AT, path="a.py", line=3),
        Command(CommandKind.FUNCTION, path=None, function="f"),
        Command(CommandKind.QUERY, query="text"),
        Command(CommandKind.INVALID, error="bad"),
    ],
)
def test_command_round_trips_through_json_dict(command: Command) -> None:
    data = command.to_dict()
    assert all(v is not None for v in data.values())
    assert Command.from_dict(data) == command


def test_help_text_names_every_keyword() -> None:
    for keyword in ("help", "config", "ignore"):
        assert f"/similar {keyword}" in HELP_TEXT
