"""The privacy–utility frontier of a sweep: one point per setting, as a table and a plot.

x = test accuracy (utility, on served outputs), y = TPR at 1% FPR of the strongest
attack of that setting (the one with the highest TPR there), on a log scale; the
undefended models are the reference point.
"""

from __future__ import annotations

import json
from pathlib import Path

from tabulate import tabulate

from miabench import formats
from miabench.atomic import write_bytes
from miabench.formats import missing

FPR = "0.01"
FLOOR = 1e-4  # TPR 0 drawn at 0.01% on the log axis


def point(setting: str, records: list) -> dict:
    """A setting's utility and its strongest attack's AUC and TPR at 1% FPR (means over the K targets)."""
    rows = [{"setting": setting, "tpr_1": r.metrics.tpr_at_fpr[FPR].mean, "test_accuracy": r.utility.test_accuracy.mean,
             "attack": r.attack.name, "record": r} for r in records]  # fmt: skip
    ((strongest, *_),) = ranked(rows)  # the board's rule: the highest TPR at 1% FPR, the first seen on a tie
    strongest = strongest["record"]
    utility = strongest.utility.test_accuracy
    tpr = strongest.metrics.tpr_at_fpr[FPR]
    return {
        "setting": setting,
        "test_accuracy": utility.mean,
        "test_accuracy_std": utility.std,
        "attack": strongest.attack.name,
        "auc": strongest.metrics.auc.mean,
        "tpr_at_1pct_fpr": tpr.mean,
        "tpr_ci95": tpr.ci95,
    }


def ranked(rows: list[dict], setting: str = "setting") -> list[list[dict]]:
    """Each setting's rows, strongest attack first: the highest ``tpr_1`` (TPR at 1% FPR), the first seen on a tie.

    Rows are plain dicts with the setting's label under ``setting``, ``tpr_1``, ``test_accuracy`` and ``attack``;
    rows marked ``superseded`` or missing the TPR or the accuracy are skipped. Settings come in first-seen order.
    """
    by_setting: dict[str, list[dict]] = {}
    for row in rows:
        if not (row.get("superseded") or missing(row["tpr_1"]) or missing(row["test_accuracy"])):
            by_setting.setdefault(row[setting], []).append(row)
    return [sorted(group, key=lambda row: row["tpr_1"], reverse=True) for group in by_setting.values()]  # stable


def strongest(rows: list[dict], setting: str = "setting") -> list[dict]:
    """The frontier: each setting's strongest row (see :func:`ranked`)."""
    return [group[0] for group in ranked(rows, setting)]


def table(points: list[dict]) -> str:
    rows = [
        [
            p["setting"],
            f"{p['test_accuracy'] * 100:.2f} ± {p['test_accuracy_std'] * 100:.2f}",
            p["attack"],
            f"{p['auc']:.3f}",
            formats.ci(p["tpr_at_1pct_fpr"], *p["tpr_ci95"], digits=2, scale=100),
        ]
        for p in points
    ]
    headers = ["setting", "test accuracy %", "strongest attack", "AUC", "TPR% @ 1% FPR"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def plot(points: list[dict], path: Path) -> None:
    """``path`` with suffixes .png and .svg."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4.2))
    for p in points:
        reference = p["setting"] == "none"
        y = max(p["tpr_at_1pct_fpr"], FLOOR) * 100
        axes.scatter(p["test_accuracy"] * 100, y, marker="*" if reference else "o", s=140 if reference else 50,
                     color="black" if reference else "tab:blue", zorder=3)  # fmt: skip
        axes.annotate(p["setting"], (p["test_accuracy"] * 100, y), textcoords="offset points", xytext=(5, 4),
                      fontsize=8)  # fmt: skip
    axes.set_yscale("log")
    axes.set_xlabel("test accuracy (%)")
    axes.set_ylabel("TPR at 1% FPR (%), strongest attack")
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    for suffix in (".png", ".svg"):
        figure.savefig(path.with_suffix(suffix), dpi=150)
    plt.close(figure)


def write(out: Path, runs: list[tuple[str, list[dict]]]) -> list[dict]:
    """``out/frontier.{md,json,png,svg}`` for ``[(setting, records)]``; returns the points."""
    points = [point(setting, records) for setting, records in runs]
    out.mkdir(parents=True, exist_ok=True)
    write_bytes(out / "frontier.md", (table(points) + "\n").encode())
    write_bytes(out / "frontier.json", (json.dumps(points, indent=2) + "\n").encode())
    plot(points, out / "frontier")
    return points
