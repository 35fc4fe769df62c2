"""The run-level summary a run leaves in its ``--out`` folder, so its numbers outlive the terminal.

``summary.md`` is the table ``miabench run`` prints, ``summary.csv`` the same numbers one row per
attack (for spreadsheets and scripts), and ``roc.png`` every attack's log-log ROC: the mean over
the K targets with the 10th–90th percentile band, read from each attack's ``scores.npz``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from miabench import measure, report
from miabench.atomic import write_bytes
from miabench.measure import ROC_GRID
from miabench.metrics import FPR_LEVELS

BAND = (10, 90)  # percentiles over targets drawn around each mean ROC


def csv_rows(records: list) -> list[dict]:
    """One row per attack: AUC, TPR at each FPR level with its 95% CI bounds, and test accuracy."""
    rows = []
    for record in records:
        auc = record.metrics.auc
        row = {"attack": record.attack.name, "auc": auc.mean, "auc_ci_low": auc.ci95[0], "auc_ci_high": auc.ci95[1]}
        for alpha in FPR_LEVELS:
            tpr = record.metrics.tpr_at_fpr[f"{alpha:g}"]
            row |= {f"tpr@{alpha:g}": tpr.mean, f"tpr@{alpha:g}_ci_low": tpr.ci95[0],
                    f"tpr@{alpha:g}_ci_high": tpr.ci95[1]}  # fmt: skip
        row["test_accuracy"] = record.utility.test_accuracy.mean if record.utility else None
        rows.append(row)
    return rows


def target_rocs(scores_file: Path) -> np.ndarray:
    """``[targets, len(ROC_GRID)]`` from an attack's ``scores.npz`` (see :func:`miabench.measure.target_rocs`)."""
    with np.load(scores_file) as data:
        chosen = data["chosen"] if "chosen" in data.files else None
        return measure.target_rocs(data["scores"], data["members"], chosen)


def percent_log_axis(axis, subs: tuple = (1.0,)) -> None:
    """Log ticks written as percentages (0.01%, 0.1%, 1%, 10%, 100%), never ``4×10^0``; ``subs=(1, 2, 5)``
    adds 2% and 5% for axes spanning less than a few decades."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value * 100:.4g}%"))
    axis.set_minor_formatter(NullFormatter())


def plot_roc(curves: dict[str, np.ndarray], title: str, path: Path):
    """``path`` (PNG): each attack's mean ROC with its percentile band and the chance diagonal; returns the figure."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 5))
    floor = ROC_GRID[0]
    for name, tpr in curves.items():
        (line,) = axes.plot(ROC_GRID, np.maximum(tpr.mean(0), floor), label=name, linewidth=1.4)
        low, high = np.percentile(tpr, BAND, axis=0)
        axes.fill_between(ROC_GRID, np.maximum(low, floor), np.maximum(high, floor), color=line.get_color(),
                          alpha=0.15, linewidth=0)  # fmt: skip
    axes.plot([floor, 1], [floor, 1], linestyle="--", color="gray", linewidth=0.8, label="chance")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(floor, 1)
    axes.set_ylim(floor, 1)
    percent_log_axis(axes.xaxis)
    percent_log_axis(axes.yaxis)
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="lower right", fontsize=8, title=f"mean over targets, band {BAND[0]}–{BAND[1]}th pct",
                title_fontsize=7)  # fmt: skip
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150)
    write_bytes(path, buffer.getvalue())
    plt.close(figure)
    return figure


def write(out: Path, records: list) -> list[Path]:
    """``out/summary.md``, ``out/summary.csv`` and ``out/roc.png`` for a run's records (written in
    ``out/<attack>/``); returns the paths."""
    out = Path(out)
    first = records[0]
    write_bytes(out / "summary.md", (report.run_summary(records) + "\n").encode())
    rows = csv_rows(records)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_bytes(out / "summary.csv", text.getvalue().encode())
    curves = {r.attack.name: target_rocs(out / r.attack.name / "scores.npz") for r in records}
    defense = first.defense.name if first.defense else "n/a"
    title = f"ROC: task {first.task.name}, defense {defense}, K = {first.models}"
    plot_roc({name: tpr for name, tpr in curves.items() if len(tpr)}, title, out / "roc.png")
    return [out / "summary.md", out / "summary.csv", out / "roc.png"]
