"""Glob matching for repo-relative posix paths, with ``**`` spanning any number of folders.

``fnmatch`` lets ``*`` cross ``/`` and Python 3.11 has no ``PurePath.full_match``, so patterns
are translated to regular expressions here: ``*`` and ``?`` stay inside one path segment,
``**`` as a whole segment matches zero or more segments, and a pattern without ``/`` matches
the file name in any folder (as in ``.gitignore``).
"""

from __future__ import annotations

import re
from functools import lru_cache


def _segment_regex(segment: str) -> str:
    """Regex for one path segment: ``*``, ``?`` and ``[...]`` classes never match ``/``."""
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = segment[i + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\").replace("^", "\\^")
                out.append(f"[{'^/' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def glob_regex(pattern: str) -> str:
    """The regular expression (anchored by the caller) equivalent to ``pattern``."""
    pattern = pattern.strip().replace("\\", "/").removeprefix("./")
    if "/" not in pattern.rstrip("/"):
        pattern = "**/" + pattern
    if pattern.endswith("/"):  # a folder: everything below it
        pattern += "**"
    segments = pattern.lstrip("/").split("/")
    out: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
        else:
            out.append(_segment_regex(segment) + ("" if last else "/"))
    return "".join(out)


@lru_cache(maxsize=64)
def compile_globs(patterns: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each pattern with its compiled regex, cached: the same option tuple is used for every file."""
    return tuple((pattern, re.compile(glob_regex(pattern))) for pattern in patterns if pattern.strip())


def normalise_path(path: str) -> str:
    """A repo-relative posix path: backslashes turned, leading ``./`` and ``/`` dropped."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def first_match(path: str, patterns: tuple[str, ...]) -> str | None:
    """The first pattern that matches ``path`` whole, or ``None``."""
    path = normalise_path(path)
    for pattern, regex in compile_globs(tuple(patterns)):
        if regex.fullmatch(path):
            return pattern
    return None
