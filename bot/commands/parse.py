"""Parse ``/similar`` commands out of comment bodies. Pure: no I/O, no GitHub.

Forms (one command per comment, on a line of its own)::

    /similar                       the functions this PR changes (on a review comment: the one commented on)
    /similar path/file.py:func     one function, by file and qualified name
    /similar path/file.py:42       the function containing line 42 of the PR's head
    /similar func                  a function by qualified name, anywhere in the repository
    /similar "free text"           a free-text search of the repository
    /similar help | config | ignore

Quoted replies (``> ...``) and fenced code blocks are skipped, so quoting someone's command
does not run it again. A line that starts with ``/similar`` but does not parse yields a
``Command`` of kind ``INVALID`` with an ``error`` that the bot answers with the help text.

Comments are written by anyone who can open a pull request, so parsing never raises and bounds
its work: only the first ``MAX_BODY_CHARS`` of a body are scanned, a command line longer than
``MAX_COMMAND_CHARS`` is refused before it is split, every argument has a length limit, line
numbers are ASCII digits up to ``MAX_LINE_NUMBER``, and an error quotes at most a short excerpt
of what it refuses.
"""

from __future__ import annotations

import re
import shlex

from core.commands import Command, CommandKind

TRIGGER = "/similar"
MAX_QUERY_CHARS = 500  # free text, after its whitespace is collapsed
MAX_NAME_CHARS = 200  # a qualified function name, with or without a path
MAX_PATH_CHARS = 1024  # a repository-relative path
MAX_LINE_NUMBER = 10_000_000  # far beyond any line of a file doppel reads (max_file_bytes: 1 MB)
MAX_BODY_CHARS = 65_536  # GitHub's own limit on a comment body; anything past it is not scanned
# The longest line worth splitting: a path and a name at their limits fit many times over.
MAX_COMMAND_CHARS = 4096
_SHOWN_CHARS = 60  # how much of a refused value an error message quotes

_QUALNAME = re.compile(r"[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$~][\w$]*)*")
_KEYWORDS = {"help", "config", "ignore"}
_FENCE = re.compile(r"^\s*(```|~~~)")
_ASCII_DIGITS = re.compile(r"[0-9]+")


def find_command(body: str | None) -> Command | None:
    """The first ``/similar`` command in the first ``MAX_BODY_CHARS`` of a comment body, or
    ``None`` when they hold none. Never raises."""
    if not body:
        return None
    if len(body) > MAX_BODY_CHARS:
        # Drop the line the bound cuts through: "/similar helper" cut short must not read as "/similar help".
        body = body[:MAX_BODY_CHARS]
        body = body[: max(body.rfind("\n"), 0)]
    in_fence = False
    for raw in body.splitlines():
        if _FENCE.match(raw):
            in_fence = not in_fence
            continue
        line = raw.strip()
        if in_fence or line.startswith(">"):
            continue
        if line == TRIGGER or line.startswith(TRIGGER + " ") or line.startswith(TRIGGER + "\t"):
            return parse_command(line)
    return None


def parse_command(line: str) -> Command:
    """Parse one line that starts with ``/similar``; bad arguments give an ``INVALID`` command.
    Never raises, whatever ``line`` holds."""
    rest = line.strip()
    if len(rest) > MAX_COMMAND_CHARS:
        return _invalid(f"the command is {len(rest):,} characters long; the limit is {MAX_COMMAND_CHARS:,}")
    if not rest.startswith(TRIGGER):
        return _invalid(f"a command starts with {TRIGGER}, got {_shown(rest)}")
    rest = rest[len(TRIGGER) :]
    if rest and not rest[0].isspace():
        return _invalid(f"unknown command {_shown(line.split()[0])}")
    rest = rest.strip()
    if not rest:
        return Command(CommandKind.CHANGED)
    if rest[0] in "\"'":
        return _parse_query(rest)
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        return _invalid(f"could not read the arguments ({exc})")
    if len(words) != 1:
        return _invalid('give one argument: a keyword, path:function, path:line or "quoted text"')
    word = words[0]
    if word.lower() in _KEYWORDS:
        return Command(CommandKind(word.lower()))
    if _QUALNAME.fullmatch(word):  # before the colon test: "Parser::parse" is a name, not a path
        return _function(None, word)
    if ":" in word and not word.startswith("::"):
        return _parse_target(word)
    return _invalid(f"{_shown(word)} is neither a keyword, path:function, path:line nor a function name")


def _parse_query(rest: str) -> Command:
    try:
        words = shlex.split(rest)
    except ValueError:
        return _invalid("the quoted text has no closing quote")
    if len(words) != 1:
        return _invalid("put the whole free-text query inside one pair of quotes")
    query = " ".join(words[0].split())
    if not query:
        return _invalid("the quoted text is empty")
    if len(query) > MAX_QUERY_CHARS:
        return _invalid(f"the quoted text is {len(query):,} characters long; the limit is {MAX_QUERY_CHARS:,}")
    return Command(CommandKind.QUERY, query=query)


def _parse_target(word: str) -> Command:
    # Split at the first single colon after the path: qualified names may hold '::' (C++, Rust).
    match = re.fullmatch(r"(?P<path>[^:]+):(?P<target>.+)", word, re.DOTALL)
    if not match:
        return _invalid(f"{_shown(word)} is not path:function or path:line")
    path, target = match["path"].strip("/"), match["target"]
    if len(path) > MAX_PATH_CHARS:
        return _invalid(f"the path is {len(path):,} characters long; the limit is {MAX_PATH_CHARS:,}")
    if not path or _unsafe_path(path):
        return _invalid(f"{_shown(match['path'])} is not a repository-relative path")
    if _ASCII_DIGITS.fullmatch(target):
        # Bounded before int(): a long run of digits is refused, never converted.
        digits = target.lstrip("0")
        if not digits:
            return _invalid("line numbers start at 1")
        if len(digits) > len(str(MAX_LINE_NUMBER)) or int(digits) > MAX_LINE_NUMBER:
            return _invalid(f"line numbers go up to {MAX_LINE_NUMBER:,}")
        return Command(CommandKind.AT, path=path, line=int(digits))
    return _function(path, target)


def _function(path: str | None, name: str) -> Command:
    if len(name) > MAX_NAME_CHARS:
        return _invalid(f"the function name is {len(name):,} characters long; the limit is {MAX_NAME_CHARS:,}")
    if not _QUALNAME.fullmatch(name):
        return _invalid(f"{_shown(name)} is not a function name")
    return Command(CommandKind.FUNCTION, path=path, function=name)


def _unsafe_path(path: str) -> bool:
    parts = path.replace("\\", "/").split("/")
    return any(part in ("", ".", "..") for part in parts) or any(ord(c) < 32 for c in path)


def _shown(value: str) -> str:
    """``value`` quoted for a message, cut to ``_SHOWN_CHARS`` so that a huge argument stays out of replies."""
    if len(value) <= _SHOWN_CHARS:
        return repr(value)
    return repr(value[:_SHOWN_CHARS]) + f"… ({len(value):,} characters)"


def _invalid(message: str) -> Command:
    return Command(CommandKind.INVALID, error=message)
