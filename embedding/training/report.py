"""The training report: a base-vs-adapter table per language (Markdown) and a PNG.

Works on the JSON-friendly dict of ``RetrainReport.to_dict()`` plus ``"losses"`` (adapter name →
loss per step), so a stored report can be re-rendered. The PNG (matplotlib, imported on use)
shows the loss curves and per-language MRR bars of base and adapter on the test split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_TASKS = ("text2code", "code2code")


def comparison_rows(data: dict[str, Any], split: str = "test") -> list[dict[str, Any]]:
    """One row per (adapter, language, task): base and adapter MRR/R@1/nDCG@10 and the relative change."""
    rows = []
    for adapter in data.get("adapters", []):
        metrics = (adapter.get("metrics") or {}).get(split, {})
        base, tuned = metrics.get("base", {}), metrics.get("adapter", {})
        for language in sorted(tuned):
            for task in _TASKS:
                b, a = base.get(language, {}).get(task), tuned[language].get(task)
                if not a or not b or not a.get("queries"):
                    continue
                change = (a["mrr"] - b["mrr"]) / b["mrr"] * 100 if b["mrr"] else float("nan")
                rows.append(
                    {
                        "adapter": adapter["name"],
                        "language": language,
                        "task": task,
                        "queries": a["queries"],
                        "pool": a["pool"],
                        "base_mrr": b["mrr"],
                        "adapter_mrr": a["mrr"],
                        "change_pct": change,
                        "base_r1": b["recall_at_1"],
                        "adapter_r1": a["recall_at_1"],
                        "base_ndcg10": b["ndcg_at_10"],
                        "adapter_ndcg10": a["ndcg_at_10"],
                    }
                )
    return rows


def _moving_average(values: list[float], window: int) -> list[float]:
    """Mean of the last ``window`` values at each point (fewer at the start)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def adapter_size(train: dict[str, Any]) -> str | None:
    """'589,824 trainable parameters, 2.60% of the base model's 22,713,216' from a TrainResult dict."""
    if not train.get("trainable_parameters"):
        return None
    return (
        f"{train['trainable_parameters']:,} trainable parameters, "
        f"{100 * train.get('trainable_share', 0):.2f}% of the base model's {train.get('base_parameters', 0):,}"
    )


def markdown_table(data: dict[str, Any], split: str = "test") -> str:
    lines = [
        "| adapter | language | task | queries | pool | MRR base | MRR adapter | Δ MRR | R@1 base | R@1 adapter | nDCG@10 base | nDCG@10 adapter |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in comparison_rows(data, split):
        lines.append(
            f"| {r['adapter']} | {r['language']} | {r['task']} | {r['queries']} | {r['pool']} | {r['base_mrr']:.4f} | "
            f"{r['adapter_mrr']:.4f} | {r['change_pct']:+.1f}% | {r['base_r1']:.4f} | {r['adapter_r1']:.4f} | "
            f"{r['base_ndcg10']:.4f} | {r['adapter_ndcg10']:.4f} |"
        )
    return "\n".join(lines)


def render_markdown(data: dict[str, Any]) -> str:
    parts = [f"# doppel training report: {data.get('repo')}", ""]
    if data.get("commit"):
        parts.append(f"Commit `{data['commit']}`.")
    parts += ["", "## Held-out test split", "", markdown_table(data, "test"), "", "## Validation split (the gate)", ""]
    parts.append(markdown_table(data, "validation"))
    parts += ["", "## Adapters", ""]
    for adapter in data.get("adapters", []):
        train = adapter.get("train") or {}
        decision = adapter.get("decision") or {}
        thresholds = adapter.get("thresholds") or {}
        parts.append(
            f"- **{adapter['name']}** ({', '.join(adapter.get('languages', []))}): {train.get('steps')} steps over "
            f"{train.get('pairs')} pairs in {train.get('seconds')} s, loss {train.get('first_loss')} → {train.get('final_loss')}; "
            f"version `{adapter.get('version')}`, "
            f"{'promoted' if decision.get('promote') else 'not promoted'}: {decision.get('reason', 'no gate (no registry)')}"
        )
        if size := adapter_size(train):
            parts.append(f"  - size: {size}")
        if thresholds:
            parts.append(
                f"  - thresholds (validation): duplicate {thresholds.get('duplicate')}, related {thresholds.get('related')}, "
                f"precision {thresholds.get('precision')}, recall {thresholds.get('recall')}; "
                f"lexical weight {thresholds.get('lexical_weight')}; on test: {adapter.get('test_calibration')}"
            )
        table = calibration_table(adapter.get("calibration_table") or {})
        if table:
            parts += ["", table, ""]
    parts.append("")
    return "\n".join(parts)


def calibration_table(table: dict[str, Any]) -> str:
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


def render_png(data: dict[str, Any], path: Path) -> Path:
    """Loss curves (left) and test MRR of base vs adapter per language and task (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, losses in (data.get("losses") or {}).items():
        if losses:
            steps = range(1, len(losses) + 1)
            # Batches hold one kind of pair, so the loss alternates between easy code→code and
            # harder text→code batches: the raw curve faint, a moving average over it.
            (raw,) = left.plot(steps, losses, alpha=0.25, linewidth=0.8)
            left.plot(steps, _moving_average(losses, 20), color=raw.get_color(), label=f"{name} (mean of 20 steps)")
    left.set_xlabel("optimiser step")
    left.set_ylabel("InfoNCE loss")
    left.set_title("Training loss")
    if left.get_legend_handles_labels()[0]:
        left.legend()
    rows = comparison_rows(data, "test")
    labels = [f"{r['adapter']}:{r['language']}\n{r['task']}" for r in rows]
    xs = range(len(rows))
    right.bar([x - 0.2 for x in xs], [r["base_mrr"] for r in rows], width=0.4, label="base")
    right.bar([x + 0.2 for x in xs], [r["adapter_mrr"] for r in rows], width=0.4, label="adapter")
    right.set_xticks(list(xs), labels, fontsize=8)
    right.set_ylim(0, 1)
    right.set_ylabel("MRR (held-out test)")
    right.set_title("Base vs adapter")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(data: dict[str, Any], directory: Path) -> str:
    """Write ``report.md`` and ``report.png`` into ``directory``; returns the Markdown."""
    directory.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(data)
    (directory / "report.md").write_text(markdown, encoding="utf-8")
    render_png(data, directory / "report.png")
    return markdown
