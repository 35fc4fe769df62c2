"""Human-readable tables of result records."""

from __future__ import annotations

from tabulate import tabulate

from miabench import formats
from miabench.metrics import FPR_LEVELS


def _with_ci(summary, percent: bool = False) -> str:
    """AUC-like numbers with three decimals; rates as percentages with two."""
    return formats.ci(summary.mean, *summary.ci95, digits=2 if percent else 3, scale=100 if percent else 1)


def highlighted(records: list) -> list[str]:
    """The subgroups the records' tasks highlight and at least one record measured."""
    names = dict.fromkeys(name for record in records for name in record.task.highlighted)
    return [name for name in names if any((record.metrics_by_subgroup or {}).get(name) for record in records)]


def results_table(records: list) -> str:
    """Attack x (AUC, TPR at each FPR), and TPR at 5% FPR on highlighted subgroups: means and 95% CIs."""
    groups = highlighted(records)
    headers = ["attack", "AUC"] + [f"TPR% @ {alpha * 100:g}% FPR" for alpha in FPR_LEVELS]
    headers += [f"{group} TPR% @ 5% FPR" for group in groups]
    rows = []
    for record in records:
        tpr = record.metrics.tpr_at_fpr
        row = [record.attack.name, _with_ci(record.metrics.auc)]
        row += [_with_ci(tpr[f"{alpha:g}"], percent=True) for alpha in FPR_LEVELS]
        for group in groups:
            summary = (record.metrics_by_subgroup or {}).get(group)
            row.append(_with_ci(summary.tpr_at_fpr["0.05"], percent=True) if summary else "n/a")
        rows.append(row)
    return tabulate(rows, headers=headers, tablefmt="github")


def utility_line(utility) -> str:
    """Test accuracy, balanced accuracy and the flagged class's recall, where the record has them."""

    def percent(name: str, summary) -> str:
        return f"{name} {summary.mean * 100:.2f}% ± {summary.std * 100:.2f}"

    parts = [percent("test accuracy", utility.test_accuracy)]
    if utility.balanced_accuracy is not None:
        parts.append(percent("balanced accuracy", utility.balanced_accuracy))
    if utility.recall.get("flagged") is not None:
        parts.append(percent("recall of the flagged class", utility.recall["flagged"]))
    return ", ".join(parts)


def run_summary(records: list) -> str:
    first = records[0]
    task = first.task.name or "signals file"
    defense = first.defense.name if first.defense else "n/a"
    models = f"K = {first.models} models (each attacked in turn)"
    lines = [f"task {task} | defense {defense} | {models} | N = {first.examples} examples"]
    if first.utility:
        lines.append("utility: " + utility_line(first.utility))
    timings = first.timings
    if timings.cache_hit is not None:
        lines.append(
            "signals: from cache" if timings.cache_hit else f"signals: trained in {timings.train_seconds:.1f} s"
        )
    lines.append("")
    lines.append(results_table(records))
    for record in records:
        if record.amplification:
            chosen, base = record.metrics, record.base_metrics
            tpr, base_tpr = chosen.tpr_at_fpr["0.05"].mean, base.tpr_at_fpr["0.05"].mean
            gain = record.amplification["0.05"]
            lines.append(
                f"\n{record.attack.name}: on the {chosen.examples:.0f} candidates it judged per target, "
                f"TPR {tpr * 100:.2f}% at 5% FPR, against {base_tpr * 100:.2f}% for the same scores on all "
                f"candidates" + (f" ({gain:.1f}x)" if gain is not None else "")
            )
        if record.selection:
            lines.append(f"{record.attack.name} chose, per target (members / non-members): " + "; ".join(
                f"{row.target}: {row.members}/{row.non_members} ("
                + ", ".join(f"{name} {side.members}/{side.non_members}" for name, side in row.by_class.items()) + ")"
                for row in record.selection
            ))  # fmt: skip
    for caveat in dict.fromkeys(caveat for record in records for caveat in record.caveats):
        lines.append(f"\ncaveat: {caveat}")
    return "\n".join(lines)
