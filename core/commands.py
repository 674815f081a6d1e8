"""``/similar`` commands as data: what the bot's parser (``bot.commands``) produces and the
workers' services act on. Plain dataclasses, JSON-friendly for task arguments; no parsing here."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

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
