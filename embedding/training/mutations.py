"""Synthetic clones of a function, for code→code pairs and threshold calibration.

``make_clone`` uses the tree-sitter clone maker of ``embedding/clones.py``; where that fails (a
grammar corner case, or no parser for the language) a language-agnostic, line-and-token rewrite:

- ``renamed``: parameters and assigned locals renamed consistently, integer literals changed,
  layout changed (blank lines, comment lines dropped, spacing around ``=``);
- ``edited``: the same, plus one to three simple statements deleted or duplicated elsewhere.

The fallback works on text, so it is approximate (a renamed name may also be a keyword argument
of a call), which is acceptable for training data and for the "renamed copy" notion a reviewer
has. It is deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import logging
import random
import re

from core.domain import CodeFunction

log = logging.getLogger(__name__)

_KEYWORDS = frozenset(
    """
    and as assert async await break case catch class const continue def default defer del do elif else
    enum except export extends false final finally fn for foreach from func function go goto if impl import
    in instanceof interface is lambda let loop match mod mut new nil none nonlocal not null or package pass
    private protected pub public raise return self static struct super switch this throw throws trait true
    try type typeof use var void where while with yield cls int float str bool string char long double byte
    short unsigned signed auto boolean object any list dict set tuple map vec option result some ok err
    """.split()
)
_PARAMS = re.compile(r"\(([^)]*)\)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNED = re.compile(
    r"^\s*(?:(?:let|var|const|mut|auto|int|float|double|long|String|string|bool|char)\s+)*([a-z_][A-Za-z0-9_]*)\s*(?::=|=(?!=)|\+=|-=)",
    re.M,
)
_LOOP_VAR = re.compile(r"\bfor\s*\(?\s*(?:(?:let|var|const|auto|int)\s+)?([a-z_][A-Za-z0-9_]*)\s+(?:in|of|:|=)")
_INT = re.compile(r"(?<![\w.])(\d+)(?![\w.])")
_COMMENT_LINE = re.compile(r"^\s*(#|//)")
_NEW_NAMES = (
    "value", "item", "data", "result", "current", "entry", "element", "target", "source", "buffer",
    "count", "index", "node", "record", "payload", "temp", "acc", "output", "state", "spec",
)  # fmt: skip


def local_names(fn: CodeFunction) -> list[str]:
    """Parameter and local names worth renaming, in order of first appearance."""
    names: list[str] = []
    match = _PARAMS.search(fn.signature or "")
    if match:
        for part in match.group(1).split(","):
            # "x: int = 3", "int x", "x int", "*args", "&mut self": take the identifiers that look like names
            idents = [i for i in _IDENT.findall(part.split("=")[0].split(":")[0]) if i.lower() not in _KEYWORDS]
            candidates = [i for i in idents if i[0].islower() or i[0] == "_"]
            if candidates:
                names.append(
                    candidates[-1] if fn.language in {"java", "c", "cpp", "csharp", "typescript"} else candidates[0]
                )
    names += _ASSIGNED.findall(fn.code)
    names += _LOOP_VAR.findall(fn.code)
    out: list[str] = []
    for name in names:
        if name not in out and name.lower() not in _KEYWORDS and name != fn.name and len(name) > 0:
            out.append(name)
    return out


def rename(code: str, mapping: dict[str, str]) -> str:
    """Replace whole identifiers (not attribute accesses after a dot) by their new names."""
    if not mapping:
        return code
    pattern = re.compile(
        r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)) + r")\b"
    )
    return pattern.sub(lambda m: mapping[m.group(1)], code)


def _change_literals(code: str, rng: random.Random) -> str:
    def bump(m: re.Match[str]) -> str:
        if rng.random() < 0.5:
            return m.group(1)
        return str(int(m.group(1)) + rng.randint(1, 9))

    return _INT.sub(bump, code)


def _reformat(code: str, rng: random.Random) -> str:
    lines = [line for line in code.splitlines() if not _COMMENT_LINE.match(line)]
    out: list[str] = []
    for i, line in enumerate(lines):
        if rng.random() < 0.3:
            line = re.sub(r"\s*(?<![=!<>+\-*/%&|^:])=(?![=])\s*", " = " if rng.random() < 0.5 else "=", line)
        out.append(line.rstrip())
        if 0 < i < len(lines) - 1 and rng.random() < 0.15:
            out.append("")
    return "\n".join(out)


def _simple_statement_lines(lines: list[str]) -> list[int]:
    """Indices of body lines that are whole simple statements (safe to delete or duplicate)."""
    picks = []
    for i, line in enumerate(lines[1:-1], start=1):
        stripped = line.strip()
        if not stripped or _COMMENT_LINE.match(line):
            continue
        if stripped.endswith((":", "{", "}", "(", ",", "\\", "[")) or stripped.startswith(
            ("}", ")", "]", "return", "else", "elif", "except", "finally", "case")
        ):
            continue
        if stripped.count("(") != stripped.count(")"):
            continue
        picks.append(i)
    return picks


def _edit_statements(code: str, rng: random.Random) -> str | None:
    lines = code.splitlines()
    for _ in range(rng.randint(1, 3)):
        candidates = _simple_statement_lines(lines)
        if not candidates:
            break
        i = rng.choice(candidates)
        if rng.random() < 0.5 and len(candidates) > 1:
            del lines[i]
        else:
            j = rng.choice(candidates)
            lines.insert(j, lines[i])
    edited = "\n".join(lines)
    return edited if edited != code else None


def fallback_clone(fn: CodeFunction, clone_type: str, rng: random.Random) -> str | None:
    """The text rewrite described in the module docstring; ``None`` when nothing could change."""
    names = local_names(fn)
    pool = [n for n in _NEW_NAMES if n not in names and not re.search(rf"\b{n}\b", fn.code)]
    rng.shuffle(pool)
    mapping = {}
    for name, new in zip(names, pool, strict=False):
        mapping[name] = new if name[0] != "_" else "_" + new
    code = rename(fn.code, mapping)
    code = _change_literals(code, rng)
    if clone_type == "edited":
        code = _edit_statements(code, rng) or code
    code = _reformat(code, rng)
    return code if code.strip() != fn.code.strip() else None


def tree_sitter_clone(fn: CodeFunction, clone_type: str, rng: random.Random) -> str | None:
    """A clone from ``embedding/clones.py`` (tree-sitter), or ``None`` when it cannot make one."""
    try:
        from embedding.clones import CloneKind
        from embedding.clones import make_clone as make_tree_clone
    except ImportError:
        return None
    kind = CloneKind.RENAMED if clone_type == "renamed" else CloneKind.RENAMED_EDITED
    try:
        clone = make_tree_clone(fn.language, fn.code, kind, seed=rng)
    except Exception as exc:  # noqa: BLE001 - a grammar corner case must not stop mining; fall back
        log.debug("training.clone_fallback path=%s error=%s", fn.path, exc)
        return None
    return clone.code if clone.code.strip() != fn.code.strip() else None


def make_clone(fn: CodeFunction, clone_type: str, rng: random.Random) -> str | None:
    """A synthetic clone of ``fn`` of the given type (``renamed`` or ``edited``), or ``None``."""
    if clone_type not in ("renamed", "edited"):
        raise ValueError(f"clone_type must be 'renamed' or 'edited', got {clone_type!r}")
    return tree_sitter_clone(fn, clone_type, rng) or fallback_clone(fn, clone_type, rng)
