"""The training and evaluation reports: base against adapter per language (Markdown) and a PNG.

Both work on JSON-friendly dicts, so a stored ``report.json`` can be re-rendered:

* a training run (``doppel train``): ``RetrainReport.to_dict()`` plus ``"losses"`` (adapter name →
  loss per step) and ``"scores"`` (``score_distributions``, adapter name → per model);
* an evaluation (``doppel eval``, ``data["kind"] == "eval"``): one split, adapters evaluated as
  they are, no training fields; its own template (``render_eval_markdown``).

Each shows, per adapter, language and task, base and adapter MRR with the paired bootstrap 95%
interval of their difference (when the data has it), Recall@1/5/10 and nDCG@10. The PNG has the
loss curve (training only), smoothed over a window that fits the run (``smoothing_window``), the
figures per language and task, and the calibration plot: the verdict's scores of copies and of
their nearest non-copy neighbours, with the verdict's duplicate and related cut-offs marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedding.evaluation import TASKS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from embedding.evaluation import LanguageEvaluation
    from embedding.verdict import Verdict

_TASK_NAMES = {"text2code": "text→code", "code2code": "code→code"}
_METRICS = (
    ("mrr", "MRR"),
    ("recall_at_1", "R@1"),
    ("recall_at_5", "R@5"),
    ("recall_at_10", "R@10"),
    ("ndcg_at_10", "nDCG@10"),
)
MAX_SCORES = 4000  # scores kept per model and side in report.json (an even sample of the sorted scores)
MAX_METRIC_PANELS = 4  # (adapter, language, task) panels in the PNG; the Markdown lists them all
MAX_SMOOTHING = 50


# --- figures from the data -----------------------------------------------------------------------
def is_eval(data: Mapping[str, Any]) -> bool:
    return data.get("kind") == "eval"


def has_adapter(adapter: Mapping[str, Any]) -> bool:
    """False for an evaluation of the base model alone (no adapters given or registered)."""
    return not (adapter.get("base_only") or (adapter.get("name") == "base" and not adapter.get("path")))


def comparison_rows(data: Mapping[str, Any], split: str = "test") -> list[dict[str, Any]]:
    """One row per (adapter, language, task) with queries: base and adapter figures, the relative
    MRR change and, when the data has it, the bootstrap interval of the MRR delta."""
    rows = []
    for adapter in data.get("adapters", []):
        metrics = (adapter.get("metrics") or {}).get(split, {})
        base, tuned = metrics.get("base") or {}, metrics.get("adapter") or {}
        by_language = (((adapter.get("intervals") or {}).get(split) or {}).get("by_language")) or {}
        for language in sorted(tuned):
            for task in TASKS:
                b, a = (base.get(language) or {}).get(task), (tuned.get(language) or {}).get(task)
                if not a or not b or not a.get("queries"):
                    continue
                interval = (by_language.get(language) or {}).get(task) or {}
                row: dict[str, Any] = {
                    "adapter": adapter["name"],
                    "language": language,
                    "task": task,
                    "queries": a["queries"],
                    "pool": a["pool"],
                    "change_pct": (a["mrr"] - b["mrr"]) / b["mrr"] * 100 if b["mrr"] else float("nan"),
                    "ci_low": interval.get("ci_low"),
                    "ci_high": interval.get("ci_high"),
                    "confidence": interval.get("confidence"),
                }
                for key, _ in _METRICS:
                    row[f"base_{key}"] = b.get(key)
                    row[f"adapter_{key}"] = a.get(key)
                # The names the first report used, kept for readers of it.
                row["base_r1"], row["adapter_r1"] = b.get("recall_at_1"), a.get("recall_at_1")
                row["base_ndcg10"], row["adapter_ndcg10"] = b.get("ndcg_at_10"), a.get("ndcg_at_10")
                rows.append(row)
    return rows


def smoothing_window(steps: int) -> int:
    """Steps the loss curve is averaged over: a tenth of the run, 1 (no smoothing) for a run of
    fewer than 10 steps, at most ``MAX_SMOOTHING``. Batches hold one kind of pair, so the raw loss
    alternates between easy code→code and harder text→code batches."""
    return 1 if steps < 10 else max(2, min(MAX_SMOOTHING, steps // 10))


def _moving_average(values: Sequence[float], window: int) -> list[float]:
    """Mean of the last ``window`` values at each point (fewer at the start)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def loss_label(name: str, steps: int) -> str:
    """The legend of one adapter's loss curve, saying what the line is."""
    window = smoothing_window(steps)
    if window == 1:
        return f"{name} (loss per step, {steps} steps)"
    return f"{name} (mean of {window} steps, {steps} steps)"


def adapter_size(train: Mapping[str, Any]) -> str | None:
    """'589,824 trainable parameters, 2.60% of the base model's 22,713,216' from a TrainResult dict."""
    if not train.get("trainable_parameters"):
        return None
    return (
        f"{train['trainable_parameters']:,} trainable parameters, "
        f"{100 * train.get('trainable_share', 0):.2f}% of the base model's {train.get('base_parameters', 0):,}"
    )


def _sample(values: Sequence[float]) -> list[float]:
    ordered = sorted(values)
    if len(ordered) > MAX_SCORES:
        step = len(ordered) / MAX_SCORES
        ordered = [ordered[int(i * step)] for i in range(MAX_SCORES)]
    return [round(v, 4) for v in ordered]


def _cuts(verdict: Verdict) -> dict[str, Any]:
    return {"source": verdict.source, "duplicate": verdict.duplicate, "related": verdict.related}


def score_distributions(
    evaluations: Mapping[str, Mapping[str, LanguageEvaluation]],
    verdict: Verdict,
    *,
    split: str,
    base_verdict: Verdict | None = None,
) -> dict[str, Any]:
    """The verdict's scores of the split's copies and of their nearest non-copy neighbours, per
    model (``evaluations``: model → language → evaluation), with the verdict's cut-offs: what the
    calibration plot draws. ``verdict`` is the adapter's; the base model's vectors are scored by
    ``base_verdict`` when given (a verdict belongs to the vectors it was fitted for). Empty sides
    when the evaluation had no labelled pairs."""
    out: dict[str, Any] = {"split": split, "verdict": _cuts(verdict), "models": {}}
    for model, by_language in evaluations.items():
        judge = base_verdict if model == "base" and base_verdict is not None else verdict
        copies, others = [], []
        for evaluation in by_language.values():
            for pair in evaluation.labelled:
                score = 1.0 if pair.identical else judge.score(pair.signals)
                (copies if pair.positive else others).append(score)
        out["models"][model] = {"copies": _sample(copies), "non_copies": _sample(others), "verdict": _cuts(judge)}
    return out


def _share_at_or_above(values: Sequence[float], cut: float) -> float | None:
    return sum(1 for v in values if v >= cut) / len(values) if values else None


# --- Markdown ------------------------------------------------------------------------------------
def _fmt(value: Any, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _delta_cell(row: Mapping[str, Any]) -> str:
    change = row["change_pct"]
    text = "–" if change != change else f"{change:+.1f}%"  # NaN: a base MRR of 0
    if row.get("ci_low") is not None and row.get("ci_high") is not None:
        text += f" [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
    return text


def markdown_table(data: Mapping[str, Any], split: str = "test") -> str:
    """Base against adapter per (adapter, language, task); R@k and nDCG as 'base → adapter'."""
    rows = comparison_rows(data, split)
    if not rows:
        return f"No queries in the {split} split."
    with_ci = any(r.get("ci_low") is not None for r in rows)
    delta_head = "Δ MRR [95% CI of Δ]" if with_ci else "Δ MRR"
    lines = [
        f"| adapter | language | task | queries | pool | MRR base | MRR adapter | {delta_head} | R@1 | R@5 | R@10 | nDCG@10 |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        pairs = [f"{_fmt(r[f'base_{k}'], 3)} → {_fmt(r[f'adapter_{k}'], 3)}" for k, _ in _METRICS[1:]]
        lines.append(
            f"| {r['adapter']} | {r['language']} | {_TASK_NAMES.get(r['task'], r['task'])} | {r['queries']} | "
            f"{r['pool']} | {_fmt(r['base_mrr'])} | {_fmt(r['adapter_mrr'])} | {_delta_cell(r)} | "
            + " | ".join(pairs)
            + " |"
        )
    return "\n".join(lines)


def base_table(data: Mapping[str, Any], split: str) -> str:
    """The base model's figures alone (an evaluation without adapters)."""
    lines = [
        "| language | task | queries | pool | MRR | R@1 | R@5 | R@10 | nDCG@10 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in comparison_rows(data, split):
        cells = [_fmt(r[f"base_{k}"]) for k, _ in _METRICS]
        lines.append(
            f"| {r['language']} | {_TASK_NAMES.get(r['task'], r['task'])} | {r['queries']} | {r['pool']} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) if len(lines) > 2 else f"No queries in the {split} split."


def interval_lines(data: Mapping[str, Any]) -> list[str]:
    """The gate's figure (mean MRR over languages and tasks) with its interval, per adapter and split."""
    out = []
    labels = {"vs_base": "against the base model", "vs_current": "against the adapter in force"}
    for adapter in data.get("adapters", []):
        for split, row in sorted((adapter.get("intervals") or {}).items()):
            for key, label in labels.items():
                b = row.get(key)
                if not b:
                    continue
                relative = f" ({100 * b['relative']:+.1f}%)" if b.get("relative") is not None else ""
                out.append(
                    f"- **{adapter['name']}**, {split}, mean MRR {label}: {b['base_mrr']:.4f} → {b['adapter_mrr']:.4f}, "
                    f"Δ {b['delta']:+.4f}{relative}, {round(100 * b['confidence'])}% CI "
                    f"[{b['ci_low']:+.4f}, {b['ci_high']:+.4f}] over {b['queries']} queries"
                )
    return out


def calibration_lines(data: Mapping[str, Any]) -> list[str]:
    """Per adapter: how the verdict's duplicate cut-off splits the copies from their neighbours."""
    out = []
    for adapter in data.get("adapters", []):
        scores = adapter.get("scores") or {}
        verdict = scores.get("verdict")
        if not verdict:
            continue
        out.append(
            f"- **{adapter['name']}**, {scores.get('split')} split, verdict `{verdict['source']}` (duplicate at "
            f"{verdict['duplicate']:.3f}, related at {verdict['related']:.3f}):"
        )
        for model, sides in sorted((scores.get("models") or {}).items()):
            if model == "adapter" and not has_adapter(adapter):
                continue
            copies, others = sides.get("copies") or [], sides.get("non_copies") or []
            if not copies and not others:
                out.append(f"  - {model}: no labelled pairs in this split")
                continue
            own = sides.get("verdict") or verdict
            caught, alarms = _share_at_or_above(copies, own["duplicate"]), _share_at_or_above(others, own["duplicate"])
            by = f" (verdict `{own['source']}`, duplicate at {own['duplicate']:.3f})" if own != verdict else ""
            out.append(
                f"  - {model}{by}: {len(copies)} copies, {_pct(caught)} at or above duplicate; "
                f"{len(others)} nearest non-copies, {_pct(alarms)} at or above duplicate"
            )
    return out


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f}%"


def calibration_table(table: Mapping[str, Any]) -> str:
    """Recall on the test split at the duplicate threshold calibrated on validation (target precision),
    per model (base, adapter) and score (cosine alone, combined with lexical), overall and per clone type."""
    kinds = sorted(
        {k for scores in table.values() for row in scores.values() for k in row["test"].get("recall_by_type", {})}
    )
    if not kinds:
        return ""
    head = ["model", "score", "threshold", "test precision", "test recall", *(f"recall {k}" for k in kinds)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, scores in sorted(table.items()):
        for score, row in sorted(scores.items()):
            test, by_type = row["test"], row["test"].get("recall_by_type", {})
            cells = [model, score, row["thresholds"]["duplicate"], test.get("precision"), test.get("recall")]
            cells += [by_type.get(k, "") for k in kinds]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def _training_facts(adapter: Mapping[str, Any]) -> str:
    """What the run did, from the fields it has (never 'None steps')."""
    train = adapter.get("train") or {}
    facts = []
    if train.get("steps") is not None:
        facts.append(f"{train['steps']} steps" + (f" over {train['pairs']} pairs" if train.get("pairs") else ""))
    if train.get("seconds") is not None:
        facts.append(f"{train['seconds']} s")
    if train.get("first_loss") is not None and train.get("final_loss") is not None:
        facts.append(f"loss {train['first_loss']} → {train['final_loss']}")
    if adapter.get("version"):
        facts.append(f"version `{adapter['version']}`")
    decision = adapter.get("decision")
    if decision:
        facts.append(f"{'promoted' if decision.get('promote') else 'not promoted'}: {decision.get('reason')}")
    elif adapter.get("version") is None and train:
        facts.append("no gate (no registry)")
    return "; ".join(facts) or "not trained"


def render_markdown(data: Mapping[str, Any]) -> str:
    """The training report (an evaluation gets ``render_eval_markdown``)."""
    if is_eval(data):
        return render_eval_markdown(data)
    parts = [f"# doppel training report: {data.get('repo')}", ""]
    facts = [f"Commit `{data['commit']}`." if data.get("commit") else ""]
    if data.get("seconds"):
        facts.append(f"{data['seconds']} s in all.")
    parts += [" ".join(f for f in facts if f), "", "![loss, figures and calibration](report.png)", ""]
    parts += ["## Held-out test split", "", markdown_table(data, "test"), ""]
    parts += ["## Validation split (the gate)", "", markdown_table(data, "validation"), ""]
    if intervals := interval_lines(data):
        parts += ["## The gate's figure", "", *intervals, ""]
    parts += ["## Adapters", ""]
    for adapter in data.get("adapters", []):
        parts.append(f"- **{adapter['name']}** ({', '.join(adapter.get('languages', []))}): {_training_facts(adapter)}")
        if size := adapter_size(adapter.get("train") or {}):
            parts.append(f"  - size: {size}")
        thresholds = adapter.get("thresholds") or {}
        if thresholds:
            parts.append(
                f"  - thresholds (validation): duplicate {thresholds.get('duplicate')}, related {thresholds.get('related')}, "
                f"precision {thresholds.get('precision')}, recall {thresholds.get('recall')}; "
                f"lexical weight {thresholds.get('lexical_weight')}; on test: {adapter.get('test_calibration')}"
            )
        parts += [f"  - {note}" for note in adapter.get("notes") or []]
        table = calibration_table(adapter.get("calibration_table") or {})
        if table:
            parts += ["", table, ""]
    if calibration := calibration_lines(data):
        parts += ["", "## Calibration: the verdict on copies and their nearest non-copies", "", *calibration]
    parts.append("")
    return "\n".join(parts)


def render_eval_markdown(data: Mapping[str, Any]) -> str:
    """The evaluation report: the split evaluated, base against each adapter, no training fields."""
    split = data.get("split", "test")
    adapters = list(data.get("adapters", []))
    tuned = [a for a in adapters if has_adapter(a)]
    parts = [f"# doppel evaluation: {data.get('repo')}", ""]
    facts = []
    if data.get("commit"):
        facts.append(f"Commit `{data['commit']}`")
    facts.append(f"{split} split")
    if data.get("base_model"):
        facts.append(f"base model `{data['base_model']}`")
    if data.get("seconds") is not None:
        facts.append(f"{data['seconds']} s")
    parts += [", ".join(facts) + ".", ""]
    if tuned:
        parts.append("Adapters evaluated: " + ", ".join(f"**{a['name']}** (`{a.get('path')}`)" for a in tuned) + ".")
    else:
        parts.append("No adapters given or registered for this repository: the base model alone.")
    parts += ["", "![figures and calibration](report.png)", ""]
    parts += [f"## Retrieval on the {split} split", ""]
    parts.append(markdown_table(data, split) if tuned else base_table(data, split))
    parts.append("")
    if intervals := interval_lines(data):
        parts += ["## Mean MRR over languages and tasks", "", *intervals, ""]
    notes = [f"- {a['name']}: {note}" for a in adapters for note in a.get("notes") or []]
    if notes:
        parts += ["## Notes", "", *notes, ""]
    if calibration := calibration_lines(data):
        parts += ["## Calibration: the verdict in force on copies and their nearest non-copies", "", *calibration, ""]
    return "\n".join(parts)


# --- the PNG -------------------------------------------------------------------------------------
def figure(data: Mapping[str, Any]) -> Figure:
    """The report's figure: loss (training only), base vs adapter per language and task, calibration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    evaluation = is_eval(data)
    split = data.get("split", "test") if evaluation else "test"
    rows = comparison_rows(data, split)[:MAX_METRIC_PANELS]
    losses = {name: list(values) for name, values in (data.get("losses") or {}).items() if values}
    calibrated = [a for a in data.get("adapters", []) if (a.get("scores") or {}).get("verdict")]
    panels = (0 if evaluation else 1) + max(1, len(rows)) + (1 if calibrated else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4.4 * panels, 4.2), squeeze=False)
    axes_left = list(axes[0])
    if not evaluation:
        _loss_panel(axes_left.pop(0), losses)
    metric_axes = [axes_left.pop(0) for _ in range(max(1, len(rows)))]
    _metric_panels(metric_axes, rows, split, base_only=not any(has_adapter(a) for a in data.get("adapters", [])))
    if calibrated:
        _calibration_panel(axes_left.pop(0), calibrated[0])
    title = f"doppel {'evaluation' if evaluation else 'training'}: {data.get('repo')}"
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _loss_panel(ax: Any, losses: Mapping[str, Sequence[float]]) -> None:
    for name, values in losses.items():
        steps = range(1, len(values) + 1)
        window = smoothing_window(len(values))
        if window == 1:
            ax.plot(steps, values, marker="o", markersize=3, label=loss_label(name, len(values)))
        else:
            (raw,) = ax.plot(steps, values, alpha=0.25, linewidth=0.8)
            ax.plot(steps, _moving_average(values, window), color=raw.get_color(), label=loss_label(name, len(values)))
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("InfoNCE loss")
    ax.set_title("Training loss")
    if losses:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no losses recorded", ha="center", va="center", transform=ax.transAxes)


def _metric_panels(axes: Sequence[Any], rows: Sequence[Mapping[str, Any]], split: str, *, base_only: bool) -> None:
    if not rows:
        axes[0].text(
            0.5, 0.5, f"no queries in the {split} split", ha="center", va="center", transform=axes[0].transAxes
        )
        axes[0].set_axis_off()
        return
    xs = list(range(len(_METRICS)))
    for ax, row in zip(axes, rows, strict=False):
        base = [row[f"base_{k}"] or 0.0 for k, _ in _METRICS]
        if base_only:
            ax.bar(xs, base, width=0.6, label="base")
        else:
            tuned = [row[f"adapter_{k}"] or 0.0 for k, _ in _METRICS]
            ax.bar([x - 0.2 for x in xs], base, width=0.4, label="base")
            bars = ax.bar([x + 0.2 for x in xs], tuned, width=0.4, label="adapter")
            if row.get("ci_low") is not None:
                # The interval of the MRR delta, drawn on the adapter's MRR bar: base + [low, high].
                low, high = row["base_mrr"] + row["ci_low"], row["base_mrr"] + row["ci_high"]
                centre = bars[0].get_x() + bars[0].get_width() / 2
                ax.errorbar(
                    [centre],
                    [tuned[0]],
                    yerr=[[tuned[0] - low], [high - tuned[0]]],
                    fmt="none",
                    ecolor="black",
                    capsize=4,
                )
        ax.set_xticks(xs, [label for _, label in _METRICS], fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(f"{row['adapter']}: {row['language']} {_TASK_NAMES.get(row['task'], row['task'])}\n"
                     f"{row['queries']} queries, pool {row['pool']} ({split})", fontsize=9)  # fmt: skip
        ax.legend(fontsize=8, loc="upper left")


def _calibration_panel(ax: Any, adapter: Mapping[str, Any]) -> None:
    scores = adapter["scores"]
    model = "adapter" if has_adapter(adapter) and "adapter" in scores.get("models", {}) else "base"
    sides = scores.get("models", {}).get(model) or {}
    copies, others = sides.get("copies") or [], sides.get("non_copies") or []
    bins = [i / 40 for i in range(41)]
    if others:
        ax.hist(others, bins=bins, alpha=0.6, color="tab:gray", label=f"nearest non-copies ({len(others)})")
    if copies:
        ax.hist(copies, bins=bins, alpha=0.6, color="tab:purple", label=f"copies ({len(copies)})")
    verdict = sides.get("verdict") or scores["verdict"]
    ax.axvline(verdict["duplicate"], color="tab:red", linestyle="--", label=f"duplicate ≥ {verdict['duplicate']:.2f}")
    ax.axvline(verdict["related"], color="tab:orange", linestyle=":", label=f"related ≥ {verdict['related']:.2f}")
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"verdict score ({verdict['source']})")
    ax.set_ylabel("pairs")
    ax.set_title(f"Calibration: {adapter['name']}, {model} vectors ({scores.get('split')})", fontsize=9)
    if not copies and not others:
        ax.text(0.5, 0.5, "no labelled pairs in this split", ha="center", va="center", transform=ax.transAxes)
    ax.legend(fontsize=7, loc="upper center")


def render_png(data: Mapping[str, Any], path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig = figure(data)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(data: Mapping[str, Any], directory: Path) -> str:
    """Write ``report.md`` and ``report.png`` into ``directory`` (the eval template for an
    evaluation's data); returns the Markdown."""
    directory.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(data)
    (directory / "report.md").write_text(markdown, encoding="utf-8")
    render_png(data, directory / "report.png")
    return markdown
