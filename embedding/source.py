"""Read-only access to a git repository at given commits, through GitPython.

``GitSource`` answers what indexing and review need: a ref as a full SHA, the files at a commit,
a file's bytes, what changed between two commits and which lines a change added. Only plumbing
and read-only porcelain commands run; hooks, fsmonitor, external diff drivers and textconv
filters are switched off, so a hostile repository cannot make doppel run its commands. Nothing
is fetched and no credentials are read or written.

The diff parsers (``parse_name_status``, ``parse_added_lines``) are pure functions over git's
output and are tested on their own.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import GitError

# Config that keeps git from running anything the repository chose (hooks, fsmonitor daemons)
# and from decorating output we parse (colour, quoting of non-ASCII paths).
_SAFE_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.quotePath=false",
    "color.ui=false",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
)
# Flags for every diff: no external drivers or textconv, fixed prefixes, repository-wide paths.
_DIFF_FLAGS = ("--no-color", "--no-ext-diff", "--no-textconv", "--no-relative", "--src-prefix=a/", "--dst-prefix=b/")

_REGULAR_BLOB_MODES = frozenset({"100644", "100755", "100664"})  # skip 120000 symlinks, 160000 submodules
_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_TREE_CACHE_SIZE = 4
_C_ESCAPES = {
    b"n": b"\n",
    b"t": b"\t",
    b'"': b'"',
    b"\\": b"\\",
    b"a": b"\a",
    b"b": b"\b",
    b"f": b"\f",
    b"r": b"\r",
    b"v": b"\v",
}


def _decode_path(raw: bytes) -> str:
    """Paths are bytes to git; ``surrogateescape`` keeps non-UTF-8 names round-trippable."""
    return raw.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class FileChanges:
    """Paths that differ between two commits (renames detected with ``-M``).

    Type changes (e.g. a file turned into a symlink) count as modifications; copies as additions.
    """

    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()  # (old path, new path)

    @property
    def removed_paths(self) -> tuple[str, ...]:
        """Paths whose indexed content is stale at the new commit: deleted, modified, renamed away."""
        return self.deleted + self.modified + tuple(old for old, _ in self.renamed)

    @property
    def new_paths(self) -> tuple[str, ...]:
        """Paths whose content at the new commit must be (re)read: added, modified, renamed to."""
        return self.added + self.modified + tuple(new for _, new in self.renamed)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.modified or self.deleted or self.renamed)


def parse_name_status(output: bytes) -> FileChanges:
    """Parse ``git diff --name-status -z -M`` output into a ``FileChanges``.

    With ``-z`` each record is ``STATUS\\0PATH\\0`` or, for renames and copies,
    ``Rnnn\\0OLD\\0NEW\\0``; paths are raw bytes and never quoted.
    """
    fields = output.split(b"\0")
    if fields and fields[-1] in (b"", b"\n"):
        fields.pop()
    added: list[str] = []
    modified: list[str] = []
    deleted: list[str] = []
    renamed: list[tuple[str, str]] = []
    i = 0
    while i < len(fields):
        status = fields[i].strip().decode("ascii", "replace")
        kind = status[:1]
        if kind in ("R", "C"):
            if i + 2 >= len(fields):
                raise GitError(f"truncated rename record in git diff output: {status!r}")
            old, new = _decode_path(fields[i + 1]), _decode_path(fields[i + 2])
            i += 3
            if kind == "R":
                renamed.append((old, new))
            else:
                added.append(new)
            continue
        if i + 1 >= len(fields):
            raise GitError(f"truncated record in git diff output: {status!r}")
        path = _decode_path(fields[i + 1])
        i += 2
        if kind == "A":
            added.append(path)
        elif kind == "D":
            deleted.append(path)
        elif kind in ("M", "T"):
            modified.append(path)
        elif kind == "U":
            raise GitError(f"unmerged path {path!r} in a commit diff: resolve the merge and commit it first")
        # "X" (unknown) and anything newer than this parser: nothing doppel can index.
    return FileChanges(tuple(added), tuple(modified), tuple(deleted), tuple(renamed))


def _unquote_c_path(raw: bytes) -> bytes:
    """Undo git's C-style quoting of a path (``"a\\tb"``, octal escapes) when present."""
    if not (raw.startswith(b'"') and raw.endswith(b'"') and len(raw) >= 2):
        return raw
    body = raw[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i : i + 1]
        if ch != b"\\" or i + 1 >= len(body):
            out += ch
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        if nxt in _C_ESCAPES:
            out += _C_ESCAPES[nxt]
            i += 2
        elif nxt.isdigit() and i + 4 <= len(body):
            out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            out += nxt
            i += 2
    return bytes(out)


def _header_path(line: bytes, prefix: bytes) -> str | None:
    """The path of a ``+++ b/x`` line, or ``None`` for ``/dev/null``."""
    raw = line[4:].rstrip(b"\n")
    # git appends a tab after paths containing spaces only in some versions; drop it.
    if raw.endswith(b"\t"):
        raw = raw[:-1]
    raw = _unquote_c_path(raw)
    if raw == b"/dev/null":
        return None
    if raw.startswith(prefix):
        raw = raw[len(prefix) :]
    return _decode_path(raw)


def parse_added_lines(diff: bytes) -> dict[str, set[int]]:
    """New-side line numbers added per path, from a unified diff (best with ``-U0``).

    Hunk bodies are consumed by their declared new-side length, so an added line that itself
    starts with ``++`` is never taken for a file header. Deleted files (``+++ /dev/null``),
    binary files, pure renames and mode changes contribute nothing; ``\\ No newline`` markers
    are skipped. Paths with no added line are left out.
    """
    added: dict[str, set[int]] = {}
    path: str | None = None
    lines = diff.split(b"\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith(b"diff --git "):
            path = None
        elif line.startswith(b"+++ "):
            path = _header_path(line, b"b/")
        elif line.startswith(b"@@ "):
            match = _HUNK.match(line)
            if match is None:
                raise GitError(f"unexpected hunk header in git diff output: {line[:80]!r}")
            new_line = int(match.group(1))
            remaining = int(match.group(2)) if match.group(2) is not None else 1
            while remaining > 0 and i < len(lines):
                body = lines[i]
                i += 1
                marker = body[:1]
                if marker == b"+":
                    if path is not None:
                        added.setdefault(path, set()).add(new_line)
                    new_line += 1
                    remaining -= 1
                elif marker == b" ":
                    new_line += 1
                    remaining -= 1
                elif marker in (b"-", b"\\"):
                    continue
                else:  # a hunk shorter than declared: let the outer loop re-read this line
                    i -= 1
                    break
    return added


def split_patches(diff: bytes) -> dict[str, str]:
    """Per new-side path, the hunks of a unified diff: what GitHub's ``patch`` field of a pull
    request's file holds (no ``diff --git``/``---``/``+++`` headers). Deleted and binary files,
    pure renames and mode changes have no hunks and are left out."""
    patches: dict[str, list[bytes]] = {}
    path: str | None = None
    in_hunks = False
    for line in diff.split(b"\n"):
        if line.startswith(b"diff --git "):
            path, in_hunks = None, False
        elif not in_hunks and line.startswith(b"+++ "):
            path = _header_path(line, b"b/")
        elif line.startswith(b"@@ ") and path is not None:
            in_hunks = True
            patches.setdefault(path, []).append(line)
        elif in_hunks and path is not None:
            patches[path].append(line)
    return {p: b"\n".join(lines).rstrip(b"\n").decode("utf-8", "replace") for p, lines in patches.items()}


class GitSource:
    """One local repository (working tree or bare), read at explicit commits."""

    def __init__(self, path: Path) -> None:
        import git  # GitPython: imported here so that importing this module stays light

        path = Path(path)
        try:
            self._repo = git.Repo(path, search_parent_directories=True)
        except git.NoSuchPathError as exc:
            raise GitError(f"{path} does not exist: pass the path of a git repository") from exc
        except git.InvalidGitRepositoryError as exc:
            raise GitError(
                f"{path} is not a git repository: pass a clone's directory (run `git clone` or `git init` first)"
            ) from exc
        self._git_errors: tuple[type[BaseException], ...] = (git.GitCommandError, ValueError)
        self._repo.git.set_persistent_git_options(c=list(_SAFE_CONFIG))
        self.root = Path(self._repo.working_tree_dir or self._repo.git_dir)
        self._trees: OrderedDict[str, dict[str, str]] = OrderedDict()  # commit sha → {path: blob sha}

    # --- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop GitPython's persistent ``cat-file`` processes."""
        self._repo.close()

    def __enter__(self) -> GitSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GitSource({str(self.root)!r})"

    # --- git plumbing ---------------------------------------------------------------------------
    def _run(self, command: str, *args: str, what: str) -> bytes:
        """Run ``git <command> <args>`` (with the safe ``-c`` options) and return raw stdout."""
        method = getattr(self._repo.git, command.replace("-", "_"))
        try:
            out: Any = method(*args, stdout_as_string=False, strip_newline_in_stdout=False)
        except self._git_errors as exc:
            stderr = getattr(exc, "stderr", "") or str(exc)
            raise GitError(f"{what} failed in {self.root}: {str(stderr).strip()[:500]}") from exc
        return bytes(out)

    @staticmethod
    def _check_ref(ref: str) -> None:
        if not ref or ref.startswith("-") or any(c in ref for c in "\0\n\r"):
            raise GitError(f"invalid git ref {ref!r}: pass a branch, tag or commit SHA")

    # --- public API -----------------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """The full SHA of the commit that ``ref`` (branch, tag, SHA, ``HEAD~2``…) names."""
        self._check_ref(ref)
        import git

        try:
            out = self._repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
        except git.GitCommandError as exc:
            if not self._has_commits():
                raise GitError(
                    f"{self.root} has no commits yet, so there is nothing to index or review: "
                    "commit the code first (`git add -A && git commit -m ...`)"
                ) from exc
            raise GitError(
                f"unknown revision {ref!r} in {self.root}: check the name, or fetch it first "
                f"(e.g. `git fetch origin {ref}`)"
            ) from exc
        sha = out.strip()
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
            raise GitError(f"git rev-parse gave {sha!r} for {ref!r} in {self.root}, not a commit SHA")
        return sha

    def _has_commits(self) -> bool:
        """Whether any ref names a commit (a fresh ``git init`` has none)."""
        try:
            return bool(self._run("rev-list", "-n", "1", "--all", what="listing commits").strip())
        except GitError:
            return False

    def _tree(self, commit: str) -> dict[str, str]:
        """Regular-file blobs at a commit as {path: blob sha}; small LRU so repeat reads are cheap.

        A full SHA already listed is served without a ``rev-parse``: indexing reads thousands of
        files at one resolved commit.
        """
        cached = self._trees.get(commit)
        if cached is not None:
            self._trees.move_to_end(commit)
            return cached
        sha = self.resolve(commit)
        cached = self._trees.get(sha)
        if cached is not None:
            self._trees.move_to_end(sha)
            return cached
        out = self._run("ls-tree", "-r", "-z", "--full-tree", sha, what=f"listing files of {sha[:12]}")
        entries: dict[str, str] = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, raw_path = record.partition(b"\t")
            mode, kind, blob = meta.decode("ascii").split(" ")
            if kind == "blob" and mode in _REGULAR_BLOB_MODES:
                entries[_decode_path(raw_path)] = blob
        self._trees[sha] = entries
        if len(self._trees) > _TREE_CACHE_SIZE:
            self._trees.popitem(last=False)
        return entries

    def list_files(self, commit: str) -> list[str]:
        """Repo-relative POSIX paths of the regular files at ``commit``, sorted (no symlinks, no submodules)."""
        return sorted(self._tree(commit))

    def read(self, commit: str, path: str) -> bytes:
        """The bytes of ``path`` at ``commit``."""
        blob = self._tree(commit).get(path)
        if blob is None:
            raise GitError(f"{path!r} is not a regular file at {commit!r} in {self.root}")
        try:
            return bytes(self._repo.odb.stream(bytes.fromhex(blob)).read())
        except self._git_errors as exc:
            raise GitError(f"could not read {path!r} ({blob[:12]}) in {self.root}: {exc}") from exc

    def changes(self, old: str, new: str) -> FileChanges:
        """Files added, modified, deleted and renamed from ``old`` to ``new`` (direct diff, ``-M``)."""
        a, b = self.resolve(old), self.resolve(new)
        if a == b:
            return FileChanges()
        out = self._run("diff", "--name-status", "-z", "-M", *_DIFF_FLAGS, a, b, "--", what=f"diff {a[:12]}..{b[:12]}")
        return parse_name_status(out)

    def merge_base(self, base: str, head: str) -> str:
        """The best common ancestor of two commits."""
        import git

        a, b = self.resolve(base), self.resolve(head)
        try:
            sha = self._repo.git.merge_base(a, b).strip()
        except git.GitCommandError as exc:
            if exc.status == 1:  # git's way of saying "no common ancestor"
                sha = ""
            else:
                raise GitError(f"merge-base of {base!r} and {head!r} failed in {self.root}: {exc.stderr}") from exc
        if not sha:
            raise GitError(
                f"{base!r} and {head!r} have no common ancestor in {self.root}: review against a related base"
            )
        return sha

    def added_lines(self, base: str, head: str) -> dict[str, set[int]]:
        """New-side line numbers that ``head`` adds, per path, diffed against merge-base(base, head).

        Like a pull request's diff: changes made on ``base`` since the branch point are not counted.
        """
        mb = self.merge_base(base, head)
        b = self.resolve(head)
        out = self._run(
            "diff", "-U0", "-M", "--ignore-submodules=all", *_DIFF_FLAGS, mb, b, "--", what=f"diff {mb[:12]}..{b[:12]}"
        )
        return parse_added_lines(out)

    def file_patches(self, base: str, head: str) -> dict[str, str]:
        """Each changed file's hunks (three lines of context) from merge-base(base, head) to
        ``head``: the ``patch`` GitHub shows for the file of a pull request from ``head`` into ``base``."""
        mb = self.merge_base(base, head)
        b = self.resolve(head)
        out = self._run(
            "diff", "-M", "--ignore-submodules=all", *_DIFF_FLAGS, mb, b, "--", what=f"diff {mb[:12]}..{b[:12]}"
        )
        return split_patches(out)

    def remote_url(self, name: str = "origin") -> str | None:
        """The URL of remote ``name``, or ``None`` when there is no such remote."""
        try:
            return str(self._repo.remote(name).url)
        except ValueError:
            return None
