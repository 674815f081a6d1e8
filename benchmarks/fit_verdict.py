"""Fit doppel's default verdict on the real-edit benchmark's calibration libraries.

Reads the labelled candidates that ``benchmarks/bench_real_edits.py --dump-candidates FILE`` writes
(every pair ``doppel review --explain`` scored, real edits and synthetic clones of the same
libraries, with the verdict's signals), keeps the ``calibrate`` split, fits a logistic verdict
(``embedding.verdict_fit.fit_verdict``) and writes it as the shipped default
(``embedding/data/verdict.json``). The ``report`` split is only *judged*, never fitted on: its
figures are printed beside the calibration ones so that a fit that only memorised its libraries
shows. Which pairs are used:

* positives: each copy's pair with its own original (real edits and synthetic clones);
* negatives: every candidate of a genuinely new function (no counterpart, no near-copy in the
  old release); each new function is one unit, so the false-alarm budget counts functions;
* left out: a copy's candidates other than its original (they may be true copies of it, such as
  a sync/async twin) and functions that came along inside a placed one.

    .venv/bin/python benchmarks/fit_verdict.py ~/.cache/doppel-bench/candidates-*.jsonl
    .venv/bin/python benchmarks/fit_verdict.py DUMP --without name --no-write   # try a variant
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.domain import FindingKind  # noqa: E402
from embedding.verdict import DEFAULT_VERDICT_PATH, SIGNALS, Signals, Verdict  # noqa: E402
from embedding.verdict_fit import FitOptions, LabelledPair, fit_verdict  # noqa: E402

COPY_SETS = ("pair", "clone")


def load(paths: Iterable[Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle if line.strip()]
    return rows


def unit_of(row: dict[str, Any]) -> str:
    fn = row["function"]
    return f"{row['library']}|{row.get('mode', 'real')}|{fn['path']}|{fn['qualified_name']}"


def group_of(row: dict[str, Any]) -> str:
    if row["function_set"] == "clone":
        return f"synthetic:{row.get('clone_kind', 'renamed')}"
    return f"real:{row.get('band') or 'all'}"


def labelled(rows: Sequence[dict[str, Any]], split: str) -> list[LabelledPair]:
    """The fitting pairs of one split (see the module docstring)."""
    out: list[LabelledPair] = []
    for row in rows:
        if row["split"] != split:
            continue
        kind = row["function_set"]
        if kind in COPY_SETS and row["label"] == 1:
            out.append(
                LabelledPair(Signals.from_dict(row["features"]), True, group_of(row), bool(row.get("identical")))
            )
        elif kind == "negative":
            signals = Signals.from_dict(row["features"])
            out.append(LabelledPair(signals, False, "new", bool(row.get("identical")), unit=unit_of(row)))
    return out


def review_figures(verdict: Verdict, rows: Sequence[dict[str, Any]], split: str) -> dict[str, Any]:
    """What ``doppel review`` would report with ``verdict`` on a split, per function as a user sees it:
    a copy is caught when its pair with its original is a duplicate; a new function is a false
    alarm when any of its candidates is."""
    caught: dict[str, tuple[str, bool]] = {}
    alarms: dict[str, bool] = {}
    for row in rows:
        if row["split"] != split or row["function_set"] not in (*COPY_SETS, "negative"):
            continue
        unit = unit_of(row)
        kind = verdict.classify(Signals.from_dict(row["features"]), identical=bool(row.get("identical")))
        if row["function_set"] == "negative":
            alarms[unit] = alarms.get(unit, False) or kind is FindingKind.DUPLICATE
            continue
        group = group_of(row)
        hit = caught.get(unit, (group, False))[1] or (row["label"] == 1 and kind is FindingKind.DUPLICATE)
        caught[unit] = (group, hit)
    groups: dict[str, list[bool]] = {}
    for group, hit in caught.values():
        groups.setdefault(group, []).append(hit)
        groups.setdefault("real:all" if group.startswith("real") else "synthetic:all", []).append(hit)
    return {
        "recall": {g: (sum(h) / len(h), len(h)) for g, h in sorted(groups.items())},
        "false_alarms": (sum(alarms.values()) / len(alarms) if alarms else 0.0, len(alarms)),
    }


def table(verdict: Verdict, rows: Sequence[dict[str, Any]]) -> str:
    figures = {split: review_figures(verdict, rows, split) for split in ("calibrate", "report")}
    groups = sorted(set(figures["calibrate"]["recall"]) | set(figures["report"]["recall"]))
    lines = ["| copies caught / false alarms | calibrate (fitted on) | report (held out) |", "|---|---:|---:|"]
    for group in groups:
        cells = []
        for split in ("calibrate", "report"):
            value, n = figures[split]["recall"].get(group, (0.0, 0))
            cells.append(f"{value:.3f} (n={n})")
        lines.append(f"| {group} | {cells[0]} | {cells[1]} |")
    cells = [
        f"{figures[s]['false_alarms'][0]:.3f} (n={figures[s]['false_alarms'][1]})" for s in ("calibrate", "report")
    ]
    lines.append(f"| new functions flagged duplicate | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dumps", nargs="+", type=Path, help="candidate dumps of bench_real_edits.py (JSON lines)")
    p.add_argument("--out", type=Path, default=DEFAULT_VERDICT_PATH, help="where to write the verdict")
    p.add_argument("--no-write", action="store_true", help="print the figures only")
    p.add_argument("--without", default="", help="signals to leave out, comma-separated (e.g. name)")
    p.add_argument("--false-alarms", type=float, default=0.01, help="share of new functions the duplicate bar may flag")
    p.add_argument("--related-false-alarms", type=float, default=0.10, help="the same for the related bar")
    p.add_argument("--l2", type=float, default=1.0, help="ridge penalty on the standardised weights")
    p.add_argument(
        "--source",
        default="default",
        help="whose vectors the dumps hold: 'default' (the base model) or 'adapter:code' (the shipped code "
        "adapter, for build_code_adapter.py write --verdict)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = load(args.dumps)
    dropped = {name.strip() for name in args.without.split(",") if name.strip()}
    unknown = dropped - set(SIGNALS)
    if unknown:
        raise SystemExit(f"--without names unknown signals {sorted(unknown)}; known: {', '.join(SIGNALS)}")
    pairs = labelled(rows, "calibrate")
    libraries = sorted({r["library"] for r in rows if r["split"] == "calibrate"})
    held_out = sorted({r["library"] for r in rows if r["split"] == "report"})
    options = FitOptions(
        l2=args.l2,
        duplicate_false_alarms=args.false_alarms,
        related_false_alarms=args.related_false_alarms,
        signals=tuple(s for s in SIGNALS if s not in dropped),
    )
    verdict = fit_verdict(
        pairs,
        options,
        source=args.source,
        fitted={
            "on": "benchmarks/bench_real_edits.py calibration libraries: real edits between releases "
            "and synthetic clones as copies, genuinely new functions' review candidates as non-copies",
            "libraries": libraries,
            "held_out": held_out,
            "date": dt.date.today().isoformat(),
            "base_model": "sentence-transformers/all-MiniLM-L6-v2",
            **({} if args.source == "default" else {"vectors": args.source}),
        },
    )
    print(f"fitted on {len(pairs)} pairs of {len(libraries)} libraries: {', '.join(libraries)}")
    print(f"held out ({len(held_out)}): {', '.join(held_out)}")
    print("weights:", {k: round(v, 3) for k, v in verdict.weights.items()}, f"bias {verdict.bias:.3f}")
    print(f"cut-offs: duplicate {verdict.duplicate:.4f}, related {verdict.related:.4f}\n")
    print(table(verdict, rows))
    if not args.no_write:
        args.out.write_text(json.dumps(verdict.to_dict(), indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
