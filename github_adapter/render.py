"""Markdown that doppel posts on GitHub: inline comments, the sticky summary, ``/similar`` answers.

Pure functions over plain data. Every comment carries a hidden HTML marker so that the bot finds
its own words again on the next run instead of repeating them: ``<!-- doppel:summary -->`` on the
one summary comment, ``<!-- doppel:fp=<fingerprint> -->`` on each inline comment. Matched code is
shown as a permalink plus a short snippet, never as a whole body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from core.domain import CodeFunction, Finding, FindingKind, IndexedFunction, Match
from core.wording import amount, describe

SUMMARY_MARKER = "<!-- doppel:summary -->"
SIMILAR_MARKER = "<!-- doppel:similar -->"
_FP_MARKER = re.compile(r"<!-- doppel:fp=([0-9a-f]{6,64}) -->")
_HEAD_MARKER = re.compile(r"<!-- doppel:head=([0-9a-f]{7,64}) -->")
_RESOLVED_MARKER = re.compile(r"<!-- doppel:resolved=([0-9a-f,]*) -->")

SNIPPET_LINES = 6
SNIPPET_CHARS = 400

_KIND_TITLE = {
    FindingKind.DUPLICATE: "Possible duplicate",
    FindingKind.RELATED: "Related code",
    FindingKind.INTRA_PR: "Duplicated within this pull request",
}


def fingerprint_marker(fingerprint: str) -> str:
    return f"<!-- doppel:fp={fingerprint} -->"


def head_marker(sha: str) -> str:
    return f"<!-- doppel:head={sha} -->"


def find_fingerprints(body: str) -> list[str]:
    """Fingerprints named by hidden markers in a comment body, in order."""
    return _FP_MARKER.findall(body or "")


def is_summary(body: str) -> bool:
    return SUMMARY_MARKER in (body or "")


def summary_head(body: str) -> str | None:
    """The head SHA a summary comment was written for, if it records one."""
    found = _HEAD_MARKER.search(body or "")
    return found.group(1) if found else None


def summary_resolved(body: str) -> set[str]:
    """Fingerprints whose inline comments an earlier run already minimized."""
    found = _RESOLVED_MARKER.search(body or "")
    return {fp for fp in found.group(1).split(",") if fp} if found else set()


@dataclass(frozen=True)
class Links:
    """Builds permalinks into one repository: ``<web_url>/<slug>/blob/<sha>/<path>#L<a>-L<b>``."""

    web_url: str
    slug: str
    base_sha: str
    head_sha: str

    def blob(self, commit: str, path: str, start: int, end: int) -> str:
        lines = f"#L{start}" if end <= start else f"#L{start}-L{end}"
        return f"{self.web_url.rstrip('/')}/{self.slug}/blob/{commit}/{_quote_path(path)}{lines}"

    def changed(self, fn: CodeFunction) -> str:
        """The changed function as the pull request's head has it."""
        return self.blob(self.head_sha, fn.path, fn.start_line, fn.end_line)

    def target(self, finding: Finding) -> str:
        """The matched code: at the base commit, or at the head for a copy inside the pull request."""
        commit = self.head_sha if finding.kind is FindingKind.INTRA_PR else self.base_sha
        return self.blob(commit, finding.target.path, finding.target.start_line, finding.target.end_line)


def _quote_path(path: str) -> str:
    return "/".join(part.replace("%", "%25").replace(" ", "%20").replace("#", "%23") for part in path.split("/"))


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    """Inline code span that survives backticks inside ``text``."""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def snippet(code: str, *, max_lines: int = SNIPPET_LINES, max_chars: int = SNIPPET_CHARS) -> str:
    """The first lines of ``code``, cut to ``max_lines`` lines and ``max_chars`` characters."""
    lines = code.splitlines()
    kept: list[str] = []
    size = 0
    for line in lines[:max_lines]:
        if size + len(line) > max_chars:
            kept.append(line[: max(0, max_chars - size)])
            break
        kept.append(line)
        size += len(line) + 1
    text = "\n".join(kept).rstrip()
    if len(kept) < len(lines) or len(text) < len(code.rstrip()):
        text += "\n…"
    return text


def _fenced(language: str, text: str) -> str:
    fence = "~~~~" if "```" in text else "```"
    return f"{fence}{language}\n{text}\n{fence}"


def _target_label(target: IndexedFunction) -> str:
    return f"{_code(target.qualified_name)} in {_code(target.path)} (lines {target.start_line}–{target.end_line})"


def render_inline(finding: Finding, links: Links) -> str:
    """Body of the inline review comment for one finding, with its fingerprint marker."""
    title = _KIND_TITLE[finding.kind]
    words = describe(finding)
    parts = [
        f"**{title}:** {words.headline}",
        *(["", words.detail] if words.detail else []),
        "",
        f"Compare: [{_target_label(finding.target)}]({links.target(finding)}).",
    ]
    if finding.target.code:
        parts += [
            "",
            "<details><summary>Matched code</summary>",
            "",
            _fenced(finding.target.language, snippet(finding.target.code)),
            "",
            "</details>",
        ]
    parts += [
        "",
        words.advice,
        fingerprint_marker(finding.fingerprint),
    ]
    return "\n".join(parts)


@dataclass
class SummaryView:
    """What the summary shows, sorted into sections by the publishing service."""

    inline: list[Finding] = field(default_factory=list)  # have an inline comment (this run or earlier)
    overflow: list[Finding] = field(default_factory=list)  # duplicates beyond the inline cap
    unplaced: list[Finding] = field(default_factory=list)  # duplicates GitHub would not anchor on the diff
    related: list[Finding] = field(default_factory=list)
    intra_pr: list[Finding] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)  # fingerprints whose findings went away
    pre_existing: int = 0  # duplicates already in the base (shown as one line when the setting asks)
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.inline) + len(self.overflow) + len(self.unplaced) + len(self.related) + len(self.intra_pr)


def _finding_rows(findings: Sequence[Finding], links: Links) -> list[str]:
    rows = [
        "| Changed function | Similar to | How much matches |",
        "| --- | --- | --- |",
    ]
    for f in sorted(findings, key=lambda f: (-f.score, f.function.path, f.function.start_line)):
        rows.append(
            f"| [{_cell(_code(f.function.qualified_name))}]({links.changed(f.function)}) "
            f"| [{_cell(_code(f.target.qualified_name))}]({links.target(f)}) {_cell(_code(f.target.path))} "
            f"| {_cell(amount(f))} |"
        )
    return rows


def render_summary(view: SummaryView, links: Links, *, resolved_markers: Iterable[str] = ()) -> str:
    """The sticky summary comment: counts, one table per section, the head SHA it describes."""
    parts = [SUMMARY_MARKER, "### doppel: similar code in this pull request", ""]
    if view.total == 0:
        parts.append("No near-duplicates or related code found for the functions this pull request changes.")
    else:
        counts = []
        duplicates = len(view.inline) + len(view.overflow) + len(view.unplaced)
        if duplicates:
            counts.append(f"{duplicates} possible duplicate{'s' if duplicates != 1 else ''}")
        if view.intra_pr:
            counts.append(f"{len(view.intra_pr)} copied within this pull request")
        if view.related:
            counts.append(f"{len(view.related)} related")
        parts.append("Found " + ", ".join(counts) + ".")
    sections: list[tuple[str, list[Finding]]] = [
        ("Possible duplicates (commented inline)", view.inline),
        ("More possible duplicates (further matches, or over the inline comment limit)", view.overflow),
        ("Possible duplicates that could not be placed on the diff", view.unplaced),
        ("Duplicated within this pull request", view.intra_pr),
        ("Related code worth a look", view.related),
    ]
    for title, findings in sections:
        if findings:
            parts += ["", f"#### {title}", "", *_finding_rows(findings, links)]
    if view.pre_existing:
        n = view.pre_existing
        parts += [
            "",
            f"{n} near-duplicate{'s' if n != 1 else ''} already existed before this pull request "
            f"(the changed function{'s were' if n != 1 else ' was'} a copy already); not counted.",
        ]
    if view.resolved:
        n = len(view.resolved)
        parts += ["", f"{n} earlier finding{'s' if n != 1 else ''} no longer appl{'y' if n != 1 else 'ies'}."]
    if view.warnings:
        parts += ["", "<details><summary>Warnings</summary>", ""]
        parts += [f"- {_cell(w)}" for w in view.warnings]
        parts += ["", "</details>"]
    everything = view.inline + view.overflow + view.unplaced + view.intra_pr + view.related
    models = ", ".join(_code(v) for v in sorted({f.adapter_version for f in everything}))
    parts += [
        "",
        f"<sub>Reviewed {_code(links.head_sha[:12])} against base {_code(links.base_sha[:12])}"
        f"{f' with {models}' if models else ''}. "
        "Comment `/similar` on a line or function to look up similar code.</sub>",
        head_marker(links.head_sha),
        f"<!-- doppel:resolved={','.join(sorted(set(resolved_markers)))} -->",
    ]
    return "\n".join(parts)


def render_similar(matches: Sequence[Match], *, web_url: str, slug: str, commit: str, subject: str) -> str:
    """Answer to a ``/similar`` command: a table of the best matches for ``subject``."""
    links = Links(web_url=web_url, slug=slug, base_sha=commit, head_sha=commit)
    parts = [SIMILAR_MARKER, f"### Code similar to {subject}", ""]
    if not matches:
        parts.append("Nothing similar found in the indexed code.")
        return "\n".join(parts)
    parts += ["| # | Function | Where | Cosine | Adapter |", "| --- | --- | --- | --- | --- |"]
    for rank, m in enumerate(matches, start=1):
        t = m.target
        commit_sha = t.commit or commit
        link = links.blob(commit_sha, t.path, t.start_line, t.end_line)
        parts.append(
            f"| {rank} | [{_cell(_code(t.qualified_name))}]({link}) | {_cell(_code(t.path))} "
            f"L{t.start_line}–{t.end_line} | {m.score:.2f} | {_cell(_code(t.adapter_version))} |"
        )
    return "\n".join(parts)
