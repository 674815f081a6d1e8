"""Where on a pull request's diff an inline comment for a finding may be placed.

GitHub accepts a review comment only on a line of the diff's right side that lies inside a hunk
(an added or a context line); anything else fails the whole review with a 422. This module parses
the ``patch`` of each file of ``GET /pulls/{n}/files`` and picks, for a changed function, the
signature line when the change touched it, else the function's first added line. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.domain import CodeFunction

_HUNK_HEADER = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class Hunk:
    """One hunk's right side: the lines it spans (``start`` .. ``start + count - 1``) and those it adds."""

    start: int
    count: int
    added: frozenset[int]
    context: frozenset[int]

    @property
    def right_lines(self) -> frozenset[int]:
        """Every right-side line a comment may sit on: added and context lines."""
        return self.added | self.context


@dataclass(frozen=True)
class FilePatch:
    """The hunks of one file of a pull request (empty when GitHub sent no patch, e.g. a binary)."""

    path: str
    hunks: tuple[Hunk, ...]

    @classmethod
    def parse(cls, path: str, patch: str | None) -> FilePatch:
        return cls(path=path, hunks=parse_patch(patch or ""))

    @property
    def added(self) -> frozenset[int]:
        return frozenset().union(*(h.added for h in self.hunks))

    @property
    def right_lines(self) -> frozenset[int]:
        return frozenset().union(*(h.right_lines for h in self.hunks))

    def commentable(self, line: int) -> bool:
        """True when a right-side review comment on ``line`` would be accepted."""
        return any(line in h.right_lines for h in self.hunks)


def parse_patch(patch: str) -> tuple[Hunk, ...]:
    """Parse a unified-diff body (GitHub's ``patch`` field, no file headers) into right-side hunks."""
    hunks: list[Hunk] = []
    start = count = line = 0
    added: set[int] = set()
    context: set[int] = set()
    in_hunk = False

    def close() -> None:
        if in_hunk:
            hunks.append(Hunk(start, count, frozenset(added), frozenset(context)))

    for raw in patch.splitlines():
        header = _HUNK_HEADER.match(raw)
        if header:
            close()
            start = int(header.group(1))
            count = int(header.group(2)) if header.group(2) is not None else 1
            line = start
            added, context = set(), set()
            in_hunk = True
            continue
        if not in_hunk or raw.startswith("\\"):  # "\ No newline at end of file"
            continue
        if raw.startswith("+"):
            added.add(line)
            line += 1
        elif raw.startswith("-"):
            continue
        else:  # a context line (some tools strip the leading space of empty ones)
            context.add(line)
            line += 1
    close()
    return tuple(hunks)


def signature_line(fn: CodeFunction) -> int:
    """The file line of the function's signature: the first line of its code naming the function.

    Decorators and annotations may precede it inside the node; the docstring, removed from
    ``code``, always follows it, so the offset of that line within ``code`` is its offset in the file.
    """
    for offset, text in enumerate(fn.code.splitlines()):
        if re.search(rf"(?<![\w$]){re.escape(fn.name)}(?![\w$])", text):
            return min(fn.start_line + offset, fn.end_line)
    return fn.start_line


def anchor_line(fn: CodeFunction, patch: FilePatch | None) -> int | None:
    """Right-side line for an inline comment about ``fn``, or ``None`` when none lies in a hunk.

    The signature line if the change added it, else the function's first added line, else the
    first context line of a hunk inside the function (a function changed only by deletions).
    """
    if patch is None or not patch.hunks:
        return None
    sig = signature_line(fn)
    added = patch.added
    if sig in added:
        return sig
    inside = sorted(line for line in added if fn.contains_line(line))
    if inside:
        return inside[0]
    context = sorted(line for line in patch.right_lines if fn.contains_line(line))
    return context[0] if context else None


def patches_by_path(files: Iterable[tuple[str, str | None]]) -> dict[str, FilePatch]:
    """``{path: FilePatch}`` from ``(path, patch)`` pairs (the pull request's files)."""
    return {path: FilePatch.parse(path, patch) for path, patch in files}
