"""Findings as a SARIF 2.1.0 log that GitHub Code Scanning accepts (``upload-sarif``).

Pure: plain data in, a JSON-ready ``dict`` out. One run, tool ``doppel``, one rule per finding
kind (``doppel/near-duplicate``, ``doppel/related``, ``doppel/intra-pr``). Each result points at
the changed function (a ``physicalLocation`` whose ``uri`` is relative to the repository root,
``uriBaseId`` ``%SRCROOT%``) and at the code it resembles (a ``relatedLocation`` the message links
to as ``[text](1)``). ``partialFingerprints`` carry the finding's own fingerprint, which ignores
line numbers, so Code Scanning keeps one alert open across re-pushes and rebases instead of
closing one and opening another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.domain import Finding, FindingKind
from core.wording import describe

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "doppelFingerprint/v1"
INFORMATION_URI = "https://github.com/doppel-review/doppel"


@dataclass(frozen=True)
class Rule:
    """One reporting rule: what a kind of finding means and how loud it is."""

    id: str
    name: str
    short: str
    full: str
    level: str  # SARIF level: "warning" | "note"
    help: str


RULES: dict[FindingKind, Rule] = {
    FindingKind.DUPLICATE: Rule(
        id="doppel/near-duplicate",
        name="NearDuplicateFunction",
        short="Function nearly duplicates existing code",
        full="A function added or changed by this change is a near-copy of a function that already exists "
        "in the repository (embedding and identifier-normalised token similarity above the duplicate threshold).",
        level="warning",
        help="Reuse the existing function, or extract the shared logic into one place, so that a later fix "
        "does not have to be made twice.",
    ),
    FindingKind.RELATED: Rule(
        id="doppel/related",
        name="RelatedFunction",
        short="Function resembles existing code",
        full="A function added or changed by this change is similar to existing code: not a copy, but worth "
        "a look before writing it a second time.",
        level="note",
        help="Check whether the related function already does what is needed.",
    ),
    FindingKind.INTRA_PR: Rule(
        id="doppel/intra-pr",
        name="DuplicateWithinChange",
        short="Two functions added by the same change copy each other",
        full="The change adds two functions that are near-copies of each other.",
        level="warning",
        help="Keep one of them and call it from both places.",
    ),
}


def rule_for(kind: FindingKind) -> Rule:
    return RULES[kind]


def _location(path: str, start: int, end: int) -> dict[str, Any]:
    return {
        "artifactLocation": {"uri": _relative_uri(path), "uriBaseId": SRCROOT},
        "region": {"startLine": max(1, start), "endLine": max(1, start, end)},
    }


def _relative_uri(path: str) -> str:
    """A repository-relative path as a relative URI reference (posix separators, reserved bytes escaped)."""
    clean = path.replace("\\", "/").lstrip("/")
    return "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "/-._~" else _percent(ch) for ch in clean)


def _percent(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8"))


def _message(finding: Finding) -> str:
    fn, target = finding.function, finding.target
    where = "elsewhere in this change" if finding.kind is FindingKind.INTRA_PR else "in the repository"
    verb = {
        FindingKind.DUPLICATE: "is a near-duplicate of",
        FindingKind.RELATED: "resembles",
        FindingKind.INTRA_PR: "copies",
    }[finding.kind]
    # Code Scanning renders "[text](id)" as a link to the related location with that id. The raw
    # scores are in the result's properties; the message says it in words.
    words = describe(finding)
    return (
        f"`{fn.qualified_name}` {verb} [`{target.qualified_name}` in {target.path}:{target.start_line}](1) "
        f"{where}. {words.detail} {words.advice}".replace("  ", " ").strip()
    )


def _rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": rule.full},
        "defaultConfiguration": {"level": rule.level},
        "help": {"text": rule.help, "markdown": rule.help},
        "properties": {"tags": ["maintainability", "duplicate-code"], "precision": "medium"},
    }


def finding_result(finding: Finding, rule_index: int) -> dict[str, Any]:
    """One SARIF ``result`` for ``finding``; ``rule_index`` is its rule's place in ``tool.driver.rules``."""
    rule = RULES[finding.kind]
    fn, target = finding.function, finding.target
    return {
        "ruleId": rule.id,
        "ruleIndex": rule_index,
        "level": rule.level,
        "message": {"text": _message(finding)},
        "locations": [{"physicalLocation": _location(fn.path, fn.start_line, fn.end_line)}],
        "relatedLocations": [
            {
                "id": 1,
                "physicalLocation": _location(target.path, target.start_line, target.end_line),
                "message": {"text": f"{target.qualified_name} ({target.language}, commit {target.commit[:12]})"},
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": {
            "score": round(finding.score, 4),
            "embeddingScore": round(finding.embedding_score, 4),
            "lexicalScore": round(finding.lexical_score, 4),
            "adapterVersion": finding.adapter_version,
        },
    }


def to_sarif(
    findings: Sequence[Finding],
    *,
    tool_version: str,
    head_sha: str | None = None,
    information_uri: str = INFORMATION_URI,
) -> dict[str, Any]:
    """The SARIF log for ``findings`` (every kind; related ones as notes).

    ``head_sha``, when given, is kept as a run property for people reading the file; Code
    Scanning takes the analysed commit from the upload itself.
    """
    kinds = [kind for kind in FindingKind if kind in RULES]
    index = {kind: i for i, kind in enumerate(kinds)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "doppel",
                "version": tool_version,
                "semanticVersion": tool_version,
                "informationUri": information_uri,
                "rules": [_rule_json(RULES[kind]) for kind in kinds],
            }
        },
        "originalUriBaseIds": {SRCROOT: {"description": {"text": "The root of the repository checkout."}}},
        "columnKind": "unicodeCodePoints",
        "results": [finding_result(f, index[f.kind]) for f in findings],
    }
    if head_sha:
        run["properties"] = {"headSha": head_sha}
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}
