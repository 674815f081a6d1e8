"""Head files that hold the new versions as valid code, checked with doppel's extractor, and the repo.

A function is placed as it stands in its new file, wrapped in the scopes its qualified name
needs: a Python method in ``class A:``, a JavaScript/TypeScript method in ``class A { … }`` or an
object-literal entry in ``const A = { … }``, a Ruby method in ``class A … end``, a PHP method in
``class A { … }``; Go methods carry their receiver and need none. Which wrapping gives back the
same qualified name and body is found by trying them and extracting the result, so names such as
``exports.parse`` or ``Foo.prototype.bar`` (one name with dots) stay at top level. Every head file
is extracted again at the end: a function is kept only when it comes out exactly once, with the
qualified name and body hash it had in the release.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.domain import CodeFunction
from embedding.extract import ExtractOptions, extract_source

HEAD_DIR = "doppel_head"
_LINE_COMMENTS = {"python": ("#",), "ruby": ("#",), "php": ("//", "#")}  # others: "//"
# Wrapper kinds each language can try, after "top level" (no wrapper).
_WRAPPERS = {
    "python": ("class",),
    "javascript": ("class", "object"),
    "typescript": ("class", "object"),
    "tsx": ("class", "object"),
    "ruby": ("class",),
    "php": ("class",),
    "go": (),
}


@dataclass(frozen=True)
class Wrapping:
    """How a function is placed: ``kind`` is ``top``, ``class`` or ``object``; ``scopes`` the names around it."""

    kind: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Placed:
    """A release function as it ended up in the head: its file and its qualified name there."""

    function: CodeFunction  # as extracted from the new release
    head_path: str
    head_qualified_name: str
    start_line: int


def head_path(path: str) -> str:
    return f"{HEAD_DIR}/{path}"


def _doc_start(lines: Sequence[str], start: int, language: str) -> int:
    """Index of the first line of the comments just above line index ``start`` (``start`` when none)."""
    markers = _LINE_COMMENTS.get(language, ("//",))
    first = start
    while first > 0:
        above = lines[first - 1].strip()
        if above.startswith(markers):
            first -= 1
        elif language not in ("python", "ruby") and above.endswith("*/"):
            opening = next((i for i in range(first - 1, max(first - 200, 0) - 1, -1) if "/*" in lines[i]), None)
            if opening is None or not lines[opening].strip().startswith("/*"):
                break
            first = opening
        else:
            break
    return first


def function_block(fn: CodeFunction, source: bytes) -> str:
    """The function's text to place, at column 0: Python's raw lines (docstring and decorators kept),
    other languages' code with the doc comment just above it."""
    lines = source.decode("utf-8", "replace").split("\n")
    if fn.language == "python":
        return textwrap.dedent("\n".join(lines[fn.start_line - 1 : fn.end_line])).rstrip()
    first = _doc_start(lines, fn.start_line - 1, fn.language)
    doc = textwrap.dedent("\n".join(lines[first : fn.start_line - 1])).strip("\n")
    return (doc + "\n" + fn.code).strip("\n") if doc else fn.code


def _indent(text: str, depth: int, unit: str) -> str:
    return textwrap.indent(text, unit * depth, lambda line: bool(line.strip()))


def render(language: str, wrapping: Wrapping, blocks: Sequence[str]) -> str:
    """Source text holding ``blocks`` inside ``wrapping``'s scopes (no file header)."""
    scopes = wrapping.scopes
    if wrapping.kind == "object" and not scopes:  # entries of an unnamed object literal
        entries = [block.rstrip().rstrip(",;") for block in blocks]
        return "export default {\n" + _indent(",\n\n".join(entries), 1, "  ") + "\n};"
    if wrapping.kind == "top" or not scopes:
        return "\n\n".join(blocks)
    if language == "python":
        opening = [_indent(f"class {name}:", depth, "    ") for depth, name in enumerate(scopes)]
        return "\n".join(opening) + "\n" + _indent("\n\n".join(blocks), len(scopes), "    ")
    if language == "ruby":
        opening = [_indent(f"class {name}", depth, "  ") for depth, name in enumerate(scopes)]
        closing = [_indent("end", depth, "  ") for depth in reversed(range(len(scopes)))]
        body = _indent("\n\n".join(blocks), len(scopes), "  ")
        return "\n".join(opening) + "\n" + body + "\n" + "\n".join(closing)
    if wrapping.kind == "object":  # JavaScript/TypeScript object literals nest through keys
        opening = [f"const {scopes[0]} = {{"] + [
            _indent(f"{name}: {{", d, "  ") for d, name in enumerate(scopes[1:], 1)
        ]
        closing = [_indent("}", d, "  ") for d in reversed(range(1, len(scopes)))] + ["};"]
        entries = [block.rstrip().rstrip(",;") for block in blocks]
        body = _indent(",\n\n".join(entries), len(scopes), "  ")
        return "\n".join(opening) + "\n" + body + "\n" + "\n".join(closing)
    if len(scopes) != 1:
        raise ValueError(f"{language}: class wrapping supports one scope, got {scopes}")
    return f"class {scopes[0]} {{\n" + _indent("\n\n".join(blocks), 1, "  ") + "\n}"


def file_header(language: str, source: bytes) -> str:
    """What a head file needs before its functions: Go's package clause, PHP's opening tag."""
    if language == "go":
        for line in source.decode("utf-8", "replace").splitlines():
            if line.startswith("package "):
                return line.strip() + "\n\n"
        return "package main\n\n"
    if language == "php":
        return "<?php\n\n"
    return ""


def candidate_wrappings(fn: CodeFunction) -> list[Wrapping]:
    """Top level first, then each split of the qualified name into scopes + name, for each wrapper kind."""
    parts = fn.qualified_name.split(".")
    found = [Wrapping("top")]
    for kind in _WRAPPERS.get(fn.language, ()):
        for cut in range(len(parts) - 1, 0, -1):  # the longest scope chain first: A.B.m → (A, B)
            found.append(Wrapping(kind, tuple(parts[:cut])))
        if kind == "object":
            found.append(Wrapping(kind))  # a key of an unnamed object: `export default { get() {…} }`
    return found


def _found(text: str, path: str, fn: CodeFunction, options: ExtractOptions) -> list[CodeFunction]:
    result = extract_source(path, text.encode("utf-8"), options)
    return [f for f in result.functions if f.qualified_name == fn.qualified_name and f.body_hash == fn.body_hash]


def choose_wrapping(fn: CodeFunction, block: str, header: str, options: ExtractOptions) -> Wrapping | None:
    """The first wrapping under which ``block`` extracts back to ``fn`` exactly once, or ``None``."""
    for wrapping in candidate_wrappings(fn):
        try:
            text = header + render(fn.language, wrapping, [block]) + "\n"
        except ValueError:
            continue
        if len(_found(text, fn.path, fn, options)) == 1:
            return wrapping
    return None


def head_file_text(language: str, header: str, placed: Sequence[tuple[Wrapping, str]]) -> str:
    """One head file: the blocks grouped by wrapping, in first-seen order."""
    groups: dict[Wrapping, list[str]] = defaultdict(list)
    for wrapping, block in placed:
        groups[wrapping].append(block)
    return header + "\n\n\n".join(render(language, w, blocks) for w, blocks in groups.items()) + "\n"


@dataclass(frozen=True)
class Entry:
    """A block to place in one head file, and what must come back from it: one function with this
    qualified name and body hash."""

    qualified_name: str
    body_hash: str
    wrapping: Wrapping
    block: str


def settle(
    target: str, language: str, header: str, entries: Sequence[Entry], options: ExtractOptions
) -> tuple[str | None, list[tuple[int, CodeFunction]], list[int]]:
    """One head file holding as many of ``entries`` as come back exactly once with their qualified
    name and body hash: its text (``None`` when none do), (index, extracted function) for those
    kept, and the indices of those dropped."""
    live = list(range(len(entries)))
    dropped: list[int] = []
    for _ in range(3):  # dropping a function that clashes in the whole file may unblock the rest
        if not live:
            break
        text = head_file_text(language, header, [(entries[i].wrapping, entries[i].block) for i in live])
        extracted = extract_source(target, text.encode("utf-8"), options).functions
        good: list[tuple[int, CodeFunction]] = []
        bad: list[int] = []
        for i in live:
            hits = [f for f in extracted if f.qualified_name == entries[i].qualified_name]
            if len(hits) == 1 and hits[0].body_hash == entries[i].body_hash:
                good.append((i, hits[0]))
            else:
                bad.append(i)
        if not bad:
            return text, good, dropped
        dropped += bad
        live = [i for i, _ in good]
    return None, [], dropped + live


def place_functions(
    functions: Sequence[CodeFunction], sources: Mapping[str, bytes], options: ExtractOptions
) -> tuple[dict[str, str], list[Placed], list[CodeFunction]]:
    """Head files (path → text) holding ``functions``, where each one landed, and those that could not be placed.

    ``sources`` are the new release's files by path (for raw text and headers). A function that no
    wrapping gives back exactly, or that the assembled file does not give back exactly once, is
    left out and returned as dropped.
    """
    by_path: dict[str, list[CodeFunction]] = defaultdict(list)
    for fn in functions:
        by_path[fn.path].append(fn)
    files: dict[str, str] = {}
    placed: list[Placed] = []
    dropped: list[CodeFunction] = []
    for path in sorted(by_path):
        source = sources[path]
        language = by_path[path][0].language
        header = file_header(language, source)
        kept: list[CodeFunction] = []
        entries: list[Entry] = []
        for fn in sorted(by_path[path], key=lambda f: f.start_line):
            block = function_block(fn, source)
            wrapping = choose_wrapping(fn, block, header, options)
            if wrapping is None:
                dropped.append(fn)
            else:
                kept.append(fn)
                entries.append(Entry(fn.qualified_name, fn.body_hash, wrapping, block))
        target = head_path(path)
        text, good, bad = settle(target, language, header, entries, options)
        if text is not None:
            files[target] = text
        placed += [Placed(kept[i], target, hit.qualified_name, hit.start_line) for i, hit in good]
        dropped += [kept[i] for i in bad]
    return files, placed, dropped


# --- the git repository --------------------------------------------------------------------------
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "doppel bench",
    "GIT_AUTHOR_EMAIL": "bench@doppel.invalid",
    "GIT_COMMITTER_NAME": "doppel bench",
    "GIT_COMMITTER_EMAIL": "bench@doppel.invalid",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, **_GIT_ENV, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _write(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, content in files.items():
        target = root / PurePosixPath(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)


def build_repo(
    root: Path, base: Mapping[str, bytes], head: Mapping[str, str], message: str, head_message: str | None = None
) -> tuple[str, str]:
    """A fresh repository at ``root``: commit 1 holds ``base``, commit 2 adds ``head``. Returns both SHAs.

    Author, committer and dates are fixed, so the same inputs give the same SHAs and a rebuilt
    repository reuses doppel's index and embedding cache.
    """
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    _write(root, base)
    _git(root, "add", "--all")
    _git(root, "commit", "-q", "--no-verify", "-m", f"base: {message}")
    _write(root, head)
    _git(root, "add", "--all")
    _git(root, "commit", "-q", "--no-verify", "-m", f"head: {head_message or message}")
    return _git(root, "rev-parse", "HEAD~1"), _git(root, "rev-parse", "HEAD")
