"""The Action's job summary (``$GITHUB_STEP_SUMMARY``): what doppel found and where it said so.

Pure Markdown from plain data. GitHub refuses a step summary over 1 MiB, so the tables are cut
to fit (``MAX_BYTES`` with some room to spare) and the summary says how many rows were left out;
the SARIF file and the review keep the full list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.domain import Finding, FindingKind
from core.wording import amount
from github_adapter.render import Links

MAX_BYTES = 1024 * 1024 - 16 * 1024  # GitHub's limit is 1 MiB per step; keep a margin
DEFAULT_MAX_ROWS = 100

_SECTIONS = (
    (FindingKind.DUPLICATE, "Possible duplicates"),
    (FindingKind.INTRA_PR, "Duplicated within this pull request"),
    (FindingKind.RELATED, "Related code"),
)


@dataclass
class Delivery:
    """How the findings reached the pull request."""

    mode: str  # "review" | "annotations" | "none"
    reason: str = ""  # why annotations or nothing (e.g. "pull request from a fork: read-only token")
    inline_comments: int = 0
    summary_action: str | None = None  # "created" | "edited" | "unchanged" | None
    annotations_shown: int = 0
    annotations_left_out: int = 0
    status: str = ""  # PublishOutcome.status when a review was attempted ("published", "stale", "closed")


@dataclass
class StepSummaryView:
    """Everything the job summary shows."""

    slug: str
    number: int | None
    base: str
    head: str
    changed: int
    findings: list[Finding]
    delivery: Delivery
    sarif_path: str | None = None
    warnings: list[str] = field(default_factory=list)
    index_note: str | None = None  # e.g. "index updated: 3 functions embedded, 120 from cache"
    failed_on_duplicates: bool = False


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    return f"{fence}{_cell(text)}{fence}"


def _row(finding: Finding, links: Links) -> str:
    fn, target = finding.function, finding.target
    changed = f"[{_code(fn.qualified_name)}]({links.changed(fn)}) in {_code(fn.path)}"
    resembles = f"[{_code(target.qualified_name)}]({links.target(finding)}) in {_code(target.path)}"
    return f"| {changed} | {resembles} | {_cell(amount(finding))} |"


def _delivery_lines(delivery: Delivery) -> list[str]:
    if delivery.mode == "review":
        if delivery.status and delivery.status != "published":
            return [f"Nothing was posted: the pull request is {delivery.status} (its head moved or it was closed)."]
        said = f"{delivery.inline_comments} new inline comment{'s' if delivery.inline_comments != 1 else ''}"
        summary = f"; summary comment {delivery.summary_action}" if delivery.summary_action else ""
        return [f"Posted to the pull request as one review: {said}{summary}."]
    if delivery.mode == "annotations":
        lines = [
            f"Could not post a review ({delivery.reason or 'the token may not write'}); "
            f"shown as {delivery.annotations_shown} annotation{'s' if delivery.annotations_shown != 1 else ''} instead."
        ]
        if delivery.annotations_left_out:
            lines.append(
                f"{delivery.annotations_left_out} finding{'s were' if delivery.annotations_left_out != 1 else ' was'} "
                "left out of the annotations (GitHub shows at most 10 warnings and 10 notices per step); "
                "they are all listed below and in the SARIF file."
            )
        return lines
    return [f"Nothing was posted to the pull request{f' ({delivery.reason})' if delivery.reason else ''}."]


def _render(view: StepSummaryView, links: Links, max_rows: int) -> tuple[str, int]:
    """The Markdown with at most ``max_rows`` rows per table, and how many rows were cut."""
    counts = {kind: sum(1 for f in view.findings if f.kind is kind) for kind, _ in _SECTIONS}
    target = f"pull request #{view.number}" if view.number is not None else "the change"
    out = [
        "## doppel",
        "",
        f"Reviewed {target} of `{_cell(view.slug)}`: `{view.base[:12]}`…`{view.head[:12]}`, "
        f"{view.changed} changed function{'s' if view.changed != 1 else ''}.",
        "",
        "| Possible duplicates | Within this pull request | Related |",
        "| ---: | ---: | ---: |",
        f"| {counts[FindingKind.DUPLICATE]} | {counts[FindingKind.INTRA_PR]} | {counts[FindingKind.RELATED]} |",
        "",
        *_delivery_lines(view.delivery),
    ]
    if view.failed_on_duplicates:
        out += ["", "**This step fails because `fail-on-duplicates` is set and duplicates were found.**"]
    cut = 0
    for kind, title in _SECTIONS:
        rows = [f for f in view.findings if f.kind is kind]
        if not rows:
            continue
        out += [
            "",
            f"### {title}",
            "",
            "| Changed | Resembles | How much matches |",
            "| --- | --- | --- |",
        ]
        out += [_row(f, links) for f in rows[:max_rows]]
        if len(rows) > max_rows:
            cut += len(rows) - max_rows
            out += ["", f"…and {len(rows) - max_rows} more (see the SARIF file)."]
    if not view.findings:
        out += ["", "No duplicates or related code found."]
    if view.warnings:
        out += ["", "<details><summary>Warnings</summary>", ""]
        out += [f"- {_cell(w)}" for w in view.warnings[:max_rows]]
        out += ["", "</details>"]
    notes = [n for n in (view.index_note, f"SARIF: `{view.sarif_path}`" if view.sarif_path else None) if n]
    if notes:
        out += ["", *(f"<sub>{_cell(n)}</sub>  " for n in notes)]
    return "\n".join(out) + "\n", cut


def render_step_summary(
    view: StepSummaryView, links: Links, *, max_rows: int = DEFAULT_MAX_ROWS, max_bytes: int = MAX_BYTES
) -> str:
    """The job summary, with tables shortened until the text fits in ``max_bytes`` (UTF-8)."""
    rows = max_rows
    while True:
        text, _ = _render(view, links, rows)
        if len(text.encode("utf-8")) <= max_bytes:
            return text
        if rows == 0:
            # Headers and warnings alone are too long (absurd limits): cut the bytes themselves.
            return text.encode("utf-8")[: max_bytes - 4].decode("utf-8", "ignore") + "\n…\n"
        rows //= 2


def count_kinds(findings: Sequence[Finding]) -> dict[str, int]:
    """Finding counts by kind value, for the step's outputs."""
    return {kind.value: sum(1 for f in findings if f.kind is kind) for kind in FindingKind}
