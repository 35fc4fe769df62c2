"""Human-readable tables of result records."""

from __future__ import annotations

from tabulate import tabulate

from miabench.metrics import FPR_LEVELS


def _with_ci(summary: dict, percent: bool = False) -> str:
    scale = 100 if percent else 1
    lo, hi = summary["ci95"]
    digits = 2 if percent else 3
    return f"{summary['mean'] * scale:.{digits}f} [{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"


HIGHLIGHTED = ("flagged", "severe")  # subgroups a safety task reports beside the overall numbers


def results_table(records: list[dict]) -> str:
    """Attack x (AUC, TPR at each FPR), and TPR at 5% FPR on highlighted subgroups: means and 95% CIs."""
    groups = [g for g in HIGHLIGHTED if any((r.get("metrics_by_subgroup") or {}).get(g) for r in records)]
    headers = ["attack", "AUC"] + [f"TPR% @ {alpha * 100:g}% FPR" for alpha in FPR_LEVELS]
    headers += [f"{group} TPR% @ 5% FPR" for group in groups]
    rows = []
    for record in records:
        tpr = record["metrics"]["tpr_at_fpr"]
        row = [record["attack"]["name"], _with_ci(record["metrics"]["auc"])]
        row += [_with_ci(tpr[f"{alpha:g}"], percent=True) for alpha in FPR_LEVELS]
        for group in groups:
            summary = (record.get("metrics_by_subgroup") or {}).get(group)
            row.append(_with_ci(summary["tpr_at_fpr"]["0.05"], percent=True) if summary else "n/a")
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt="github")


def utility_line(utility: dict) -> str:
    """Test accuracy, and for records that carry them balanced accuracy and the flagged class's recall."""

    def percent(name: str, summary: dict) -> str:
        return f"{name} {summary['mean'] * 100:.2f}% ± {summary['std'] * 100:.2f}"

    parts = [percent("test accuracy", utility["test_accuracy"])]
    if "balanced_accuracy" in utility:
        parts.append(percent("balanced accuracy", utility["balanced_accuracy"]))
    if "flagged" in utility.get("recall", {}):
        parts.append(percent("recall of the flagged class", utility["recall"]["flagged"]))
    return ", ".join(parts)


def run_summary(records: list[dict]) -> str:
    first = records[0]
    task = first["task"]["name"] or "signals file"
    defense = (first.get("defense") or {}).get("name", "n/a")
    models, examples = first["models"], first["examples"]
    lines = [f"task {task} | defense {defense} | K = {models} models (each attacked in turn) | N = {examples} examples"]
    if first.get("utility"):
        lines.append("utility: " + utility_line(first["utility"]))
    timings = first.get("timings", {})
    if "cache_hit" in timings:
        lines.append(
            "signals: from cache" if timings["cache_hit"] else f"signals: trained in {timings['train_seconds']:.1f} s"
        )
    lines.append("")
    lines.append(results_table(records))
    for record in records:
        if record.get("amplification"):
            chosen, base = record["metrics"], record["base_metrics"]
            tpr, base_tpr = chosen["tpr_at_fpr"]["0.05"]["mean"], base["tpr_at_fpr"]["0.05"]["mean"]
            gain = record["amplification"]["0.05"]
            lines.append(
                f"\n{record['attack']['name']}: on the {chosen['examples']:.0f} candidates it judged per target, "
                f"TPR {tpr * 100:.2f}% at 5% FPR, against {base_tpr * 100:.2f}% for the same scores on all "
                f"candidates" + (f" ({gain:.1f}x)" if gain is not None else "")
            )
    return "\n".join(lines)
