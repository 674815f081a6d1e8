"""Findings as workflow-command annotations: the fallback when the token may not post a review.

A pull request from a fork runs with a read-only token, so the Action cannot comment; it can still
print ``::warning file=…,line=…,endLine=…,title=…::message`` lines, which GitHub shows on the
"Files changed" tab and in the run. Pure: findings in, command lines out.

GitHub shows at most 10 warning and 10 notice annotations per step (and 50 per job); lines past
that are dropped silently, so we cap here and report how many were left out, for the step summary
to say so. Duplicates (and copies within the change) are warnings; related code is a notice.

Escaping follows the workflow-command rules: in the message, ``%``, ``\\r`` and ``\\n`` become
``%25``, ``%0D`` and ``%0A``; in property values ``:`` and ``,`` are escaped too (``%3A``, ``%2C``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.domain import Finding, FindingKind
from core.wording import describe

MAX_WARNINGS_PER_STEP = 10
MAX_NOTICES_PER_STEP = 10
MAX_PER_JOB = 50
MAX_MESSAGE_CHARS = 1000
MAX_TITLE_CHARS = 200

_LEVEL = {FindingKind.DUPLICATE: "warning", FindingKind.INTRA_PR: "warning", FindingKind.RELATED: "notice"}
_TITLE = {
    FindingKind.DUPLICATE: "doppel: possible duplicate",
    FindingKind.INTRA_PR: "doppel: duplicated within this pull request",
    FindingKind.RELATED: "doppel: related code",
}


def escape_data(text: str) -> str:
    """A workflow command's message (after ``::``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``file=``, ``title=`` …)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Annotation:
    """One ``::warning`` / ``::notice`` line on ``path`` lines ``line``..``end_line``."""

    level: str  # "warning" | "notice"
    path: str
    line: int
    end_line: int
    title: str
    message: str

    def command(self) -> str:
        props = ",".join(
            f"{key}={escape_property(str(value))}"
            for key, value in (
                ("file", self.path),
                ("line", self.line),
                ("endLine", self.end_line),
                ("title", _clip(self.title, MAX_TITLE_CHARS)),
            )
        )
        return f"::{self.level} {props}::{escape_data(_clip(self.message, MAX_MESSAGE_CHARS))}"


@dataclass
class AnnotationPlan:
    """The annotations to print, and how many findings did not fit GitHub's limits."""

    shown: list[Annotation] = field(default_factory=list)
    left_out: int = 0

    def lines(self) -> list[str]:
        return [a.command() for a in self.shown]


def annotation_for(finding: Finding) -> Annotation:
    fn = finding.function
    words = describe(finding)
    message = f"{words.text()}\nFingerprint {finding.fingerprint}."
    return Annotation(
        level=_LEVEL[finding.kind],
        path=fn.path,
        line=fn.start_line,
        end_line=max(fn.start_line, fn.end_line),
        title=_TITLE[finding.kind],
        message=message,
    )


def plan_annotations(
    findings: Sequence[Finding],
    *,
    max_warnings: int = MAX_WARNINGS_PER_STEP,
    max_notices: int = MAX_NOTICES_PER_STEP,
    max_total: int = MAX_PER_JOB,
) -> AnnotationPlan:
    """Annotations for ``findings`` in their given order (best first), within GitHub's limits."""
    caps = {"warning": max_warnings, "notice": max_notices}
    used = {"warning": 0, "notice": 0}
    plan = AnnotationPlan()
    for finding in findings:
        annotation = annotation_for(finding)
        if used[annotation.level] >= caps[annotation.level] or len(plan.shown) >= max_total:
            plan.left_out += 1
            continue
        used[annotation.level] += 1
        plan.shown.append(annotation)
    return plan
