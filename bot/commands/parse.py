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
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

TRIGGER = "/similar"
MAX_QUERY_CHARS = 500
HELP_TEXT = """\
`/similar` looks up code that resembles this change:

- `/similar`: the functions this pull request changes (on a review comment: the function commented on)
- `/similar path/to/file.py:function_name`: one function, by file and qualified name
- `/similar path/to/file.py:42`: the function containing line 42
- `/similar function_name`: a function by qualified name, anywhere in the repository
- `/similar "free text"`: search the repository by description
- `/similar config`: show the settings used for this repository
- `/similar ignore`: stop reviewing this pull request
- `/similar help`: this message"""

_QUALNAME = re.compile(r"[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$~][\w$]*)*")
_KEYWORDS = {"help", "config", "ignore"}
_FENCE = re.compile(r"^\s*(```|~~~)")


class CommandKind(StrEnum):
    CHANGED = "changed"  # the PR's changed functions, or the function a review comment sits on
    FUNCTION = "function"  # by qualified name, optionally within one path
    AT = "at"  # the function containing path:line
    QUERY = "query"  # free text
    HELP = "help"
    CONFIG = "config"
    IGNORE = "ignore"
    INVALID = "invalid"  # started with /similar but did not parse: answer with help


@dataclass(frozen=True)
class Command:
    """One parsed command; only the fields its kind needs are set. JSON-friendly for task args."""

    kind: CommandKind
    path: str | None = None
    function: str | None = None
    line: int | None = None
    query: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Command:
        fields = {k: data.get(k) for k in cls.__dataclass_fields__ if k != "kind"}
        return cls(kind=CommandKind(data["kind"]), **fields)


def find_command(body: str | None) -> Command | None:
    """The first ``/similar`` command in a comment body, or ``None`` when it holds none."""
    if not body:
        return None
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
    """Parse one line that starts with ``/similar``; bad arguments give an ``INVALID`` command."""
    rest = line.strip()
    if not rest.startswith(TRIGGER):
        return _invalid(f"a command starts with {TRIGGER}, got {line.strip()[:40]!r}")
    rest = rest[len(TRIGGER) :]
    if rest and not rest[0].isspace():
        return _invalid(f"unknown command {line.split()[0]!r}")
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
    if ":" in word and not word.startswith("::"):
        return _parse_target(word)
    if _QUALNAME.fullmatch(word):
        return Command(CommandKind.FUNCTION, function=word)
    return _invalid(f"{word!r} is neither a keyword, path:function, path:line nor a function name")


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
        return _invalid(f"the quoted text is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    return Command(CommandKind.QUERY, query=query)


def _parse_target(word: str) -> Command:
    # Split at the first single colon after the path: qualified names may hold '::' (C++, Rust).
    match = re.match(r"^(?P<path>[^:]+):(?P<target>.+)$", word)
    if not match:
        return _invalid(f"{word!r} is not path:function or path:line")
    path, target = match["path"].strip("/"), match["target"]
    if not path or _unsafe_path(path):
        return _invalid(f"{match['path']!r} is not a repository-relative path")
    if target.isdigit():
        line = int(target)
        if line < 1:
            return _invalid("line numbers start at 1")
        return Command(CommandKind.AT, path=path, line=line)
    if not _QUALNAME.fullmatch(target):
        return _invalid(f"{target!r} is not a function name")
    return Command(CommandKind.FUNCTION, path=path, function=target)


def _unsafe_path(path: str) -> bool:
    parts = path.replace("\\", "/").split("/")
    return any(part in ("", ".", "..") for part in parts) or any(ord(c) < 32 for c in path)


def _invalid(message: str) -> Command:
    return Command(CommandKind.INVALID, error=message)
