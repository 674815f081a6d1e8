"""What a finding means, in words a pull-request author understands: how much matches, how it
differs, what to do. Used by the CLI's text, the PR comments and the Action's annotations alike,
so all three say the same thing. The raw scores stay in the JSON and SARIF. Pure.

The comparison is line by line after stripping indentation and blank lines (``difflib``), which
is what a reader sees side by side; when few lines match textually but the verdict still calls it
a copy, the statements match once names are set aside, and the text says so.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from core.domain import Finding, FindingKind

MAX_DIFFERENCES = 3  # named differences in a sentence; the rest are counted
_EXCERPT = 60


@dataclass(frozen=True)
class Wording:
    """One finding in words: ``headline`` (what matches and how much), ``detail`` (how it
    differs, may be empty) and ``advice`` (what to do)."""

    headline: str
    detail: str
    advice: str

    def text(self) -> str:
        return " ".join(part for part in (self.headline, self.detail, self.advice) if part)


def _lines(code: str) -> list[str]:
    return [line.strip() for line in code.splitlines() if line.strip()]


def _excerpt(line: str) -> str:
    return line if len(line) <= _EXCERPT else line[: _EXCERPT - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def line_comparison(code: str, other: str) -> tuple[int, int, list[str]]:
    """``(matching, total, differences)``: lines of ``code`` found in ``other`` in order, the count of
    ``code``'s non-blank lines, and a few differences in words (``adds `x = 1```, ``changes …``)."""
    mine, theirs = _lines(code), _lines(other)
    matcher = difflib.SequenceMatcher(a=theirs, b=mine, autojunk=False)
    matching = sum(block.size for block in matcher.get_matching_blocks())
    differences: list[str] = []
    added = removed = changed = 0
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "insert":
            added += b1 - b0
            differences.append(f"adds `{_excerpt(mine[b0])}`" + (f" and {b1 - b0 - 1} more" if b1 - b0 > 1 else ""))
        elif op == "delete":
            removed += a1 - a0
            differences.append(f"drops `{_excerpt(theirs[a0])}`" + (f" and {a1 - a0 - 1} more" if a1 - a0 > 1 else ""))
        elif op == "replace":
            changed += max(a1 - a0, b1 - b0)
            differences.append(f"has `{_excerpt(mine[b0])}` where the original has `{_excerpt(theirs[a0])}`")
    return matching, len(mine), differences


def _where(finding: Finding) -> str:
    target = finding.target
    return f"`{target.qualified_name}` ({target.path}, lines {target.start_line}–{target.end_line})"


def describe(finding: Finding) -> Wording:
    """The words for one finding; see the module docstring."""
    fn, target = finding.function, finding.target
    name, where = f"`{fn.qualified_name}`", _where(finding)
    detail = ""
    if finding.extra.get("identical"):
        headline = f"{name} is a copy of {where}: only layout and comments differ."
    else:
        matching, total, differences = line_comparison(fn.code, target.code) if target.code else (0, 0, [])
        share = matching / total if total else 0.0
        if total and share >= 0.4:
            much = "Most" if share >= 0.75 else "Much"
            headline = f"{much} of {name} matches {where}: {matching} of its {total} lines."
        elif finding.kind is FindingKind.RELATED:
            headline = f"{name} does something similar to {where}."
        else:
            headline = f"{name} follows the statements of {where} closely, with other names."
        named = differences[:MAX_DIFFERENCES]
        if named:
            more = len(differences) - len(named)
            tail = f"; and differs in {_plural(more, 'other place')}" if more else ""
            detail = "It " + "; it ".join(named) + tail + "."
    if finding.kind is FindingKind.INTRA_PR:
        advice = "Both functions are new in this change: keep one and call it from both places."
    elif finding.kind is FindingKind.DUPLICATE:
        advice = (
            f"Consider calling or extending `{target.qualified_name}` instead of keeping a second copy; "
            "if the copy is deliberate, a `doppel: ignore` comment in the function silences this."
        )
    else:
        advice = f"Worth a look before adding more: `{target.qualified_name}` may already do part of the job."
    return Wording(headline, detail, advice)


def amount(finding: Finding) -> str:
    """How much of the function matches, in a few words for a table cell."""
    if finding.extra.get("identical"):
        return "a copy (layout and comments aside)"
    if not finding.target.code:
        return "similar"
    matching, total, _ = line_comparison(finding.function.code, finding.target.code)
    if total and matching / total >= 0.4:
        return f"{matching} of {total} lines"
    return "same statements, other names" if finding.kind is not FindingKind.RELATED else "similar purpose"
