"""Glob matching for repo-relative posix paths, with ``**`` spanning any number of folders.

``fnmatch`` lets ``*`` cross ``/`` and Python 3.11 has no ``PurePath.full_match``, so the rules
are doppel's own: ``*`` and ``?`` stay inside one path segment, ``**`` as a whole segment matches
zero or more segments, a pattern without ``/`` matches the file name in any folder (as in
``.gitignore``) and one ending in ``/`` everything below that folder.

The patterns come from ``.github/doppel.yml``, which anyone who can push writes, and are matched
against every path of a repository, so matching never backtracks. A regular expression did, and
took seconds: ``a*a*/a*a*/…/z`` is exponential in the number of segments and ``*a*a*a*a*b`` a
high power of the name's length. Here a pattern is compiled once (``compile_glob``) into
segments, and a path is matched in two bounded layers:

- across segments, a dynamic programme over the set of path positions each pattern segment can
  reach (``**`` extends the set, any other segment advances it by one): pattern segments × path
  segments steps;
- inside a segment, the classic wildcard algorithm: the pieces between ``*`` have a fixed width,
  the first must match at the start and the last at the end, and every other piece is taken at
  its leftmost place after the one before (leftmost is never worse), so each piece is searched
  for once: at most segment length × piece width character comparisons, done by ``str`` methods
  or a regular expression without quantifiers, which cannot backtrack.

``**/name`` and ``**/folder/**`` (the default exclude globs, tried on every path) answer the
same question with a few ``list`` operations. ``Glob.cost`` also returns the number of steps one match took (path positions visited plus
characters compared, an upper bound), for tests that check the bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_STAR = object()  # ``*`` inside a segment
_ANY = object()  # ``?``


@dataclass(frozen=True)
class _Class:
    """``[...]``: literal characters and ``lo-hi`` ranges, or (``[!...]``) anything but them.

    A range whose ends are the wrong way round holds no character (the regular expression this
    replaces raised ``re.error`` for it, in the middle of a review)."""

    negate: bool
    chars: str
    ranges: tuple[tuple[str, str], ...]

    def regex(self, *, slash: bool) -> str:
        """A character class that means the same; ``slash=False`` never lets it match ``/``."""
        items = "".join(re.escape(c) for c in self.chars)
        items += "".join(f"{re.escape(lo)}-{re.escape(hi)}" for lo, hi in self.ranges if lo <= hi)
        if self.negate:
            if not items:
                return "." if slash else "[^/]"
            return f"[^{items}]" if slash else f"[^/{items}]"
        return f"[{items}]" if items else "(?!)"


def _parse_class(body: str) -> _Class:
    """The class ``[body]`` (without its brackets): ``!`` first negates, ``a-z`` is a range and a
    ``-`` first or last is itself."""
    negate = body.startswith("!")
    body = body[1:] if negate else body
    chars: list[str] = []
    ranges: list[tuple[str, str]] = []
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            ranges.append((body[k], body[k + 2]))
            k += 3
        else:
            chars.append(body[k])
            k += 1
    return _Class(negate, "".join(chars), tuple(ranges))


def _tokens(segment: str) -> list[object]:
    """``segment`` as ``_STAR``, ``_ANY``, ``_Class`` and literal characters.

    A ``]`` right after ``[`` belongs to the class, a ``[`` without its ``]`` is itself."""
    out: list[object] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            if not out or out[-1] is not _STAR:  # ``a**b`` inside a segment is ``a*b``
                out.append(_STAR)
        elif char == "?":
            out.append(_ANY)
        elif char == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end == -1:
                out.append(char)
            else:
                out.append(_parse_class(segment[i + 1 : end]))
                i = end
        else:
            out.append(char)
        i += 1
    return out


def _token_regex(token: object, *, slash: bool) -> str:
    if token is _STAR:
        return ".*" if slash else "[^/]*"
    if token is _ANY:
        return "." if slash else "[^/]"
    if isinstance(token, _Class):
        return token.regex(slash=slash)
    return re.escape(str(token))


@dataclass(frozen=True)
class _Piece:
    """A run of single-character tokens between two ``*``: a fixed width, a literal or a regex."""

    tokens: tuple[object, ...]
    text: str | None  # the literal, when every token is a plain character
    regex: re.Pattern[str] | None  # otherwise: literals, ``.`` and classes, no quantifier

    @classmethod
    def of(cls, tokens: list[object]) -> _Piece:
        if all(isinstance(t, str) for t in tokens):
            return cls(tuple(tokens), "".join(str(t) for t in tokens), None)
        regex = re.compile("".join(_token_regex(t, slash=True) for t in tokens), re.DOTALL)
        return cls(tuple(tokens), None, regex)

    @property
    def width(self) -> int:
        return len(self.tokens)

    def at(self, text: str, pos: int) -> bool:
        """Whether the piece matches ``text[pos : pos + width]``."""
        if self.text is not None:
            return text.startswith(self.text, pos)
        assert self.regex is not None
        return self.regex.match(text, pos, pos + self.width) is not None

    def find(self, text: str, start: int, end: int) -> int:
        """The leftmost place at or after ``start`` where the piece fits before ``end``, or -1."""
        if self.text is not None:
            return text.find(self.text, start, end)
        assert self.regex is not None
        found = self.regex.search(text, start, end)
        return -1 if found is None else found.start()


@dataclass(frozen=True)
class _Segment:
    """One segment of a pattern other than ``**``: its pieces, split at ``*``."""

    pieces: tuple[_Piece, ...]  # one more than there are stars
    width: int  # the fewest characters it matches

    @classmethod
    def of(cls, segment: str) -> _Segment:
        runs: list[list[object]] = [[]]
        for token in _tokens(segment):
            if token is _STAR:
                runs.append([])
            else:
                runs[-1].append(token)
        pieces = tuple(_Piece.of(run) for run in runs)
        return cls(pieces, sum(p.width for p in pieces))

    def cost(self, name: str) -> tuple[bool, int]:
        """Whether the segment matches ``name`` whole, and the characters compared (at most)."""
        first, last = self.pieces[0], self.pieces[-1]
        n = len(name)
        if len(self.pieces) == 1:
            return n == first.width and first.at(name, 0), first.width + 1
        steps = first.width + last.width + 1
        if n < self.width or not first.at(name, 0) or not last.at(name, n - last.width):
            return False, steps
        pos, end = first.width, n - last.width
        for piece in self.pieces[1:-1]:
            found = piece.find(name, pos, end)
            steps += ((found if found >= 0 else end) - pos + 1) * max(piece.width, 1)
            if found < 0:
                return False, steps
            pos = found + piece.width
        return True, steps


_DOUBLE_STAR = None  # a ``**`` segment in ``Glob.segments``


_GENERAL, _ANY_FOLDER_NAME, _ANY_FOLDER_NAMED = 0, 1, 2  # ``Glob.shape``: see ``_shape``


@dataclass(frozen=True)
class Glob:
    """A compiled glob: ``pattern`` as written, its segments (``None`` for ``**``) after the
    bare-name and trailing-slash rules."""

    pattern: str
    segments: tuple[_Segment | None, ...]
    shape: int = _GENERAL  # two common shapes have a shortcut with the same answer

    def matches(self, path: str) -> bool:
        """Whether ``path`` (already normalised, see ``normalise_path``) matches whole."""
        return self.cost_parts(path.split("/"))[0]

    def cost(self, path: str) -> tuple[bool, int]:
        """Whether ``path`` matches, and the steps it took: at most a small constant times
        (pattern length + 1) × (path length + 1)."""
        return self.cost_parts(path.split("/"))

    def cost_parts(self, parts: list[str]) -> tuple[bool, int]:
        """``cost`` of the path whose segments (split at ``/``) are ``parts``."""
        m = len(parts)
        if self.shape == _ANY_FOLDER_NAME:  # ``**/name``: the name, below non-empty folders
            final = self.segments[1]
            assert final is not None
            if "" in parts[:-1]:
                return False, 2 * m
            hit, spent = final.cost(parts[-1])
            return hit, 2 * m + spent
        if self.shape == _ANY_FOLDER_NAMED:  # ``**/folder/**``: that folder, below non-empty ones
            folder = self.segments[1]
            assert folder is not None and folder.pieces[0].text is not None
            end = m - 1  # something must follow the folder
            if "" in parts:
                end = min(end, parts.index("") + 1)
            return folder.pieces[0].text in parts[:end], 2 * m + m * (folder.width + 1)
        return self._general(parts)

    def _general(self, parts: list[str]) -> tuple[bool, int]:
        m = len(parts)
        # reach[j]: the segments so far can consume parts[:j], each with the "/" after it, so j < m.
        reach = [False] * m
        reach[0] = True
        steps = 1
        *inner, final = self.segments
        for segment in inner:
            steps += m
            if segment is _DOUBLE_STAR:  # zero or more non-empty segments
                on = False
                for j in range(m):
                    on = reach[j] or (on and parts[j - 1] != "")
                    reach[j] = on
            else:
                advanced = [False] * m
                for j in range(m - 1):
                    if reach[j]:
                        hit, spent = segment.cost(parts[j])
                        steps += spent
                        advanced[j + 1] = hit
                reach = advanced
            if not any(reach):
                return False, steps
        if final is _DOUBLE_STAR:  # the rest, whatever it is
            return any(reach), steps + m
        if not reach[m - 1]:
            return False, steps
        hit, spent = final.cost(parts[m - 1])
        return hit, steps + spent

    def regex(self) -> str:
        """The regular expression (anchored by the caller) that means the same, for messages and
        tests; matching never uses it, since a regex engine backtracks."""
        out: list[str] = []
        for index, segment in enumerate(self.segments):
            last = index == len(self.segments) - 1
            if segment is _DOUBLE_STAR:
                out.append("(?s:.*)" if last else "(?:[^/]+/)*")
                continue
            pieces = ("".join(_token_regex(t, slash=False) for t in p.tokens) for p in segment.pieces)
            out.append("[^/]*".join(pieces) + ("" if last else "/"))
        return "".join(out)


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> Glob:
    """``pattern`` compiled, cached: every path of a repository is matched against the same few."""
    text = pattern.strip().replace("\\", "/").removeprefix("./")
    if "/" not in text.rstrip("/"):
        text = "**/" + text
    if text.endswith("/"):  # a folder: everything below it
        text += "**"
    segments = tuple(_DOUBLE_STAR if s == "**" else _Segment.of(s) for s in text.lstrip("/").split("/"))
    return Glob(pattern, segments, _shape(segments))


def _shape(segments: tuple[_Segment | None, ...]) -> int:
    """``**/name`` (every bare name) and ``**/folder/**`` with a literal folder: the default
    exclude and test globs, matched against every path, take a shortcut of a few ``list`` calls."""
    if len(segments) == 2 and segments[0] is _DOUBLE_STAR and segments[1] is not _DOUBLE_STAR:
        return _ANY_FOLDER_NAME
    if len(segments) == 3 and segments[0] is _DOUBLE_STAR and segments[2] is _DOUBLE_STAR:
        folder = segments[1]
        if folder is not None and len(folder.pieces) == 1 and folder.pieces[0].text is not None:
            return _ANY_FOLDER_NAMED
    return _GENERAL


def glob_regex(pattern: str) -> str:
    """The regular expression (anchored by the caller) equivalent to ``pattern``, for messages."""
    return compile_glob(pattern).regex()


@lru_cache(maxsize=64)
def compile_globs(patterns: tuple[str, ...]) -> tuple[Glob, ...]:
    """The non-blank patterns compiled, cached: the same option tuple is used for every file."""
    return tuple(compile_glob(pattern) for pattern in patterns if pattern.strip())


def normalise_path(path: str) -> str:
    """A repo-relative posix path: backslashes turned, leading ``./`` and ``/`` dropped."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def first_match(path: str, patterns: tuple[str, ...]) -> str | None:
    """The first pattern that matches ``path`` whole, or ``None``."""
    parts = normalise_path(path).split("/")
    for glob in compile_globs(tuple(patterns)):
        if glob.cost_parts(parts)[0]:
            return glob.pattern
    return None
