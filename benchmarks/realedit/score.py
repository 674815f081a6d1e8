"""Scoring a review's JSON against a library's truth, and the tables of the results page (pure).

A copy is *caught* when it has a ``duplicate`` finding whose target is its original; otherwise it
is *flagged against another target* (a ``duplicate`` on something else), *related only* (a
``related`` finding on its original), or *missed*. A negative with any ``duplicate`` finding is a
*false alarm*. With ``doppel review --explain`` the JSON lists every scored candidate, and the same
outcomes are computed for the legacy verdict (0.1·cosine + 0.9·lexical, duplicate ≥ 0.76, related
≥ 0.58, identical bodies always duplicate), so that both verdicts are read off one run.

The synthetic mode's truth lists ``clones`` instead of ``pairs``: each is scored as a pair is
(caught when it has a ``duplicate`` finding on its original), and counted by clone kind
(``renamed``, ``renamed_edited``) instead of by Jaccard band. Two clones of one original may also
be reported against each other (``intra_pr``); that is no verdict on the original and is not counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.realedit.match import BANDS

LEGACY_WEIGHT, LEGACY_DUPLICATE, LEGACY_RELATED = 0.9, 0.76, 0.58
PAIR_RESULTS = ("caught", "other_target", "related_only", "missed")
CLONE_KINDS = ("renamed", "renamed_edited")  # embedding.clones.CloneKind values the synthetic mode makes

Key = tuple[str, str]  # (path, qualified name)
Verdicts = dict[Key, list[tuple[str, Key]]]  # changed function → [(kind, target)]


def ref(entry: Mapping[str, Any]) -> Key:
    return str(entry["path"]), str(entry["qualified_name"])


def legacy_kind(cosine: float, lexical: float, identical: bool = False) -> str | None:
    """The pre-calibration verdict on one candidate: ``duplicate``, ``related`` or ``None``."""
    if identical:
        return "duplicate"
    score = (1.0 - LEGACY_WEIGHT) * cosine + LEGACY_WEIGHT * lexical
    if score >= LEGACY_DUPLICATE:
        return "duplicate"
    if score >= LEGACY_RELATED:
        return "related"
    return None


def is_identical(candidate: Mapping[str, Any]) -> bool:
    features = candidate.get("features") or {}
    if features.get("identical"):
        return True
    mine, theirs = candidate["function"].get("body_hash"), candidate["target"].get("body_hash")
    return bool(mine) and mine == theirs


def verdicts_from_findings(review: Mapping[str, Any]) -> Verdicts:
    """Today's verdict: the review's own ``duplicate`` and ``related`` findings, by changed function."""
    found: Verdicts = defaultdict(list)
    for finding in review.get("findings", []):
        if finding.get("kind") in ("duplicate", "related"):
            found[ref(finding["function"])].append((finding["kind"], ref(finding["target"])))
    return found


def verdicts_from_candidates(candidates: Iterable[Mapping[str, Any]]) -> Verdicts:
    """The legacy verdict recomputed on each scored candidate of ``--explain``."""
    found: Verdicts = defaultdict(list)
    for candidate in candidates:
        features = candidate.get("features") or {}
        kind = legacy_kind(float(features["cosine"]), float(features["lexical"]), is_identical(candidate))
        if kind is not None:
            found[ref(candidate["function"])].append((kind, ref(candidate["target"])))
    return found


def pair_result(entries: Sequence[tuple[str, Key]], original: Key) -> str:
    if ("duplicate", original) in entries:
        return "caught"
    if any(kind == "duplicate" for kind, _ in entries):
        return "other_target"
    if ("related", original) in entries:
        return "related_only"
    return "missed"


@dataclass(frozen=True)
class Outcome:
    """What one verdict made of one placed function."""

    library: str
    split: str
    language: str
    verdict: str  # "today" or "legacy"
    role: str  # "pair", "clone" or "negative"
    band: str | None  # a pair's Jaccard band
    result: str  # a PAIR_RESULTS value, or "false_alarm" / "clean" for a negative
    clone_kind: str | None = None  # a clone's kind (a CLONE_KINDS value)


def score_library(truth: Mapping[str, Any], verdicts: Mapping[str, Verdicts]) -> list[Outcome]:
    """Outcomes of each placed function under each named verdict."""
    outcomes: list[Outcome] = []
    lib, split = truth["library"], truth["split"]
    for name, found in verdicts.items():
        for pair in truth.get("pairs", []):
            result = pair_result(found.get(ref(pair["head"]), []), ref(pair["base"]))
            outcomes.append(Outcome(lib, split, pair["language"], name, "pair", pair["band"], result))
        for clone in truth.get("clones", []):
            result = pair_result(found.get(ref(clone["head"]), []), ref(clone["base"]))
            outcomes.append(Outcome(lib, split, clone["language"], name, "clone", None, result, clone["kind"]))
        for negative in truth["negatives"]:
            alarm = any(kind == "duplicate" for kind, _ in found.get(ref(negative["head"]), []))
            result = "false_alarm" if alarm else "clean"
            outcomes.append(Outcome(lib, split, negative["language"], name, "negative", None, result))
    return outcomes


Located = tuple[str, str, int]  # (path, qualified name, start line)


def body_hashes(truth: Mapping[str, Any], side: str) -> dict[Located, str]:
    """Body hashes of the base's (``side`` ``base``) or the head's functions, as the truth lists them."""
    return {(str(p), str(q), int(line)): str(h) for p, q, line, h in truth.get(f"{side}_hashes", [])}


def _located(entry: Mapping[str, Any]) -> Located:
    return str(entry["path"]), str(entry["qualified_name"]), int(entry.get("start_line") or 0)


def candidate_records(truth: Mapping[str, Any], candidates: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One labelled record per ``--explain`` candidate, for fitting a verdict.

    ``label`` is 1 when the target is the function's original (a real or a synthetic copy), 0
    otherwise; ``function_set`` says what the changed function is: ``pair`` (a real copy),
    ``clone`` (a synthetic one, with its ``clone_kind``), ``negative`` (a genuinely new function)
    or ``other`` (none of these, e.g. a nested function that came along). ``mode`` is the run's
    (``real`` or ``synthetic``: the negatives are the same functions in both). ``identical``: the
    function's body hash equals the target's (from the hashes the truth lists for the head and the
    base, else the candidate's own ``identical`` feature).
    """
    originals = {ref(p["head"]): p for p in truth.get("pairs", [])}
    clones = {ref(c["head"]): c for c in truth.get("clones", [])}
    negatives = {ref(n["head"]) for n in truth["negatives"]}
    head, base = body_hashes(truth, "head"), body_hashes(truth, "base")
    records = []
    for candidate in candidates:
        function, target = ref(candidate["function"]), ref(candidate["target"])
        copy = originals.get(function) or clones.get(function)
        if function in originals:
            function_set = "pair"
        elif function in clones:
            function_set = "clone"
        else:
            function_set = "negative" if function in negatives else "other"
        mine, theirs = head.get(_located(candidate["function"])), base.get(_located(candidate["target"]))
        identical = mine == theirs if mine and theirs else is_identical(candidate)
        record = {
            "library": truth["library"],
            "split": truth["split"],
            "language": truth["language"],
            "mode": truth.get("mode", "real"),
            "function": dict(candidate["function"]),
            "target": dict(candidate["target"]),
            "kind": candidate.get("kind"),
            "features": dict(candidate.get("features") or {}),
            "label": int(copy is not None and ref(copy["base"]) == target),
            "function_set": function_set,
            "identical": identical,
        }
        if function_set == "pair":
            record["jaccard"], record["band"] = copy["jaccard"], copy["band"]
        elif function_set == "clone":
            record["clone_kind"] = copy["kind"]
        records.append(record)
    return records


# --- tables --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """Recall and false alarms of one verdict on one group of outcomes (real pairs or synthetic clones)."""

    label: str
    verdict: str
    pairs: int  # the copies: real pairs, or synthetic clones
    caught: int
    bands: dict[str, tuple[int, int]]  # band (or clone kind) → (caught, copies)
    other_target: int
    related_only: int
    negatives: int
    false_alarms: int
    role: str = "pair"  # "pair": bands are Jaccard bands; "clone": clone kinds

    @property
    def recall(self) -> float:
        return self.caught / self.pairs if self.pairs else 0.0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.negatives if self.negatives else 0.0


def columns(role: str) -> list[str]:
    """The groups a row splits its copies by: Jaccard bands for real pairs, kinds for clones."""
    return list(CLONE_KINDS) if role == "clone" else [band for band, _, _ in BANDS]


def summarize(outcomes: Sequence[Outcome], label: str, verdict: str, role: str = "pair") -> Row:
    pairs = [o for o in outcomes if o.role == role and o.verdict == verdict]
    negatives = [o for o in outcomes if o.role == "negative" and o.verdict == verdict]
    bands = {}
    for column in columns(role):
        inside = [o for o in pairs if (o.clone_kind if role == "clone" else o.band) == column]
        bands[column] = (sum(o.result == "caught" for o in inside), len(inside))
    return Row(
        label=label,
        verdict=verdict,
        pairs=len(pairs),
        caught=sum(o.result == "caught" for o in pairs),
        bands=bands,
        other_target=sum(o.result == "other_target" for o in pairs),
        related_only=sum(o.result == "related_only" for o in pairs),
        negatives=len(negatives),
        false_alarms=sum(o.result == "false_alarm" for o in negatives),
        role=role,
    )


def table_rows(outcomes: Sequence[Outcome], role: str = "pair") -> list[Row]:
    """Rows per split and language, then per split, for each verdict present."""
    rows: list[Row] = []
    verdicts = sorted({o.verdict for o in outcomes}, key=lambda v: (v != "today", v))
    for split in sorted({o.split for o in outcomes}):
        in_split = [o for o in outcomes if o.split == split]
        for verdict in verdicts:
            for language in sorted({o.language for o in in_split}):
                rows.append(
                    summarize([o for o in in_split if o.language == language], f"{split} / {language}", verdict, role)
                )
            rows.append(summarize(in_split, f"{split} / all", verdict, role))
    return rows


def _share(hits: int, total: int) -> str:
    return f"{hits / total:.2f} ({hits}/{total})" if total else "–"


def render_table(rows: Sequence[Row], markdown: bool = True, role: str = "pair") -> str:
    """The side-by-side table; ``markdown`` False gives plain aligned text for the terminal."""
    groups = columns(role)
    titles = groups if role == "clone" else [f"J {band}" for band in groups]
    header = ["group", "verdict", "clones" if role == "clone" else "pairs", "recall", *titles, "other target",
              "related only", "negatives", "false alarms"]  # fmt: skip
    body = [
        [row.label, row.verdict, str(row.pairs), _share(row.caught, row.pairs),
         *(_share(*row.bands[g]) for g in groups), _share(row.other_target, row.pairs),
         _share(row.related_only, row.pairs), str(row.negatives), _share(row.false_alarms, row.negatives)]
        for row in rows
    ]  # fmt: skip
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in [header, *body])
