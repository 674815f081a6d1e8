"""Pure post-processing of a review's findings: folding nested functions, explaining candidates.

A change that copies a function with an inner callback changes both the outer function and the
callback; both then match their twins in the original. The callback's finding says nothing the
outer one does not, so it is folded into it (``fold_nested``). An inner function below the
minimum size is never reported on its own: short callbacks look alike everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from core.domain import CodeFunction, Finding, FindingKind, IndexedFunction
from embedding.verdict import Signals


def _inside(inner: CodeFunction | IndexedFunction, outer: CodeFunction | IndexedFunction) -> bool:
    """``inner`` lies within ``outer`` in the same file (and is not ``outer`` itself)."""
    if inner.path != outer.path or (inner.start_line, inner.end_line) == (outer.start_line, outer.end_line):
        return False
    return outer.start_line <= inner.start_line and inner.end_line <= outer.end_line


def fold_nested(findings: Sequence[Finding], changed: Sequence[CodeFunction], min_nested_lines: int) -> list[Finding]:
    """Findings with those on inner functions folded into their enclosing function's.

    A finding on an inner function is dropped when a function enclosing it has a finding on a
    target that encloses the inner finding's target (the outer one's ``extra["folded"]`` then
    names the inner function), and so is a function's finding on a target nested inside another
    of its targets; an inner function shorter than ``min_nested_lines`` is never reported alone.
    Order is kept."""
    outers = list(changed) + [f.function for f in findings]
    folded: dict[int, list[str]] = {}
    dropped: set[int] = set()
    for index, finding in enumerate(findings):
        # The same function matched both a target and a function nested in that target: the
        # enclosing target says it all.
        wider = next(
            (
                j
                for j, other in enumerate(findings)
                if j != index and other.function is finding.function and _inside(finding.target, other.target)
            ),
            None,
        )
        if wider is not None:
            folded.setdefault(wider, []).append(finding.target.qualified_name)
            dropped.add(index)
            continue
        enclosing = [fn for fn in outers if _inside(finding.function, fn)]
        if not enclosing:
            continue
        host = next(
            (
                j
                for j, other in enumerate(findings)
                if j != index
                and any(other.function is fn for fn in enclosing)
                and (_inside(finding.target, other.target) or finding.target == other.target)
            ),
            None,
        )
        if host is not None:
            folded.setdefault(host, []).append(finding.function.qualified_name)
            dropped.add(index)
        elif finding.function.line_count < min_nested_lines:
            dropped.add(index)
    out: list[Finding] = []
    for index, finding in enumerate(findings):
        if index in dropped:
            continue
        if index in folded:
            names = sorted(set(folded[index]))
            finding = replace(finding, extra={**finding.extra, "folded": names})
        out.append(finding)
    return out


def explain_entry(
    fn: CodeFunction, target: IndexedFunction, rank: int, signals: Signals, score: float, kind: FindingKind | None
) -> dict[str, Any]:
    """One scored pair for ``doppel review --explain``: both functions, the signals, the verdict."""
    return {
        "function": {"path": fn.path, "qualified_name": fn.qualified_name, "start_line": fn.start_line,
                     "end_line": fn.end_line, "language": fn.language},
        "target": {"path": target.path, "qualified_name": target.qualified_name,
                   "start_line": target.start_line, "end_line": target.end_line},
        "rank": rank,
        "features": signals.to_dict(),
        "score": round(score, 4),
        "kind": kind.value if kind is not None else None,
    }  # fmt: skip
