"""The privacy–utility frontier of a sweep: one point per setting, as a table and a plot.

x = test accuracy (utility, on served outputs), y = TPR at 1% FPR of the strongest
attack of that setting (the one with the highest TPR there), on a log scale; the
undefended models are the reference point. Beside the mean utility the table shows the
worst class's recall (a defense's cost can fall on a small class), the epsilon lower bound
the strongest attack implies (:mod:`miabench.audit`) and, for DP-SGD, the accountant's
epsilon, each where the records state it.
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
    } | stated(strongest)


def stated(record) -> dict:
    """What a point shows only where its record states it: the worst class's recall, the audit's epsilon lower
    bound and the accountant's epsilon (DP-SGD's facts)."""
    worst = record.utility.worst_class_recall
    out = {} if worst is None else {"worst_class_recall": worst.mean, "worst_class_recall_std": worst.std}
    if record.audit is None:  # a record from before the audit: its table stays as it was
        return out
    out["epsilon_lower_bound"] = record.audit.epsilon_lower_bound
    facts = record.defense.facts if record.defense else {}
    return out | ({"epsilon": facts["epsilon"].mean} if "epsilon" in facts else {})  # beside the lower bound


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


# Columns shown when some point states them: (key, header, how a value is written).
OPTIONAL = (
    ("worst_class_recall", "worst-class recall %",
     lambda p: f"{p['worst_class_recall'] * 100:.2f} ± {p['worst_class_recall_std'] * 100:.2f}"),
    ("epsilon_lower_bound", "ε lower bound (audit)", lambda p: f"{p['epsilon_lower_bound']:.2f}"),
    ("epsilon", "accountant ε", lambda p: f"{p['epsilon']:.2f}"),
)  # fmt: skip


def table(points: list[dict]) -> str:
    extra = [(key, header, cell) for key, header, cell in OPTIONAL if any(key in p for p in points)]
    utility = [column for column in extra if column[0] == "worst_class_recall"]  # beside the mean utility
    audit = [column for column in extra if column not in utility]  # after the TPR: the privacy side

    def cells(p: dict, columns: list) -> list[str]:
        return [cell(p) if key in p else "-" for key, _, cell in columns]

    rows = [
        [
            p["setting"],
            f"{p['test_accuracy'] * 100:.2f} ± {p['test_accuracy_std'] * 100:.2f}",
            *cells(p, utility),
            p["attack"],
            f"{p['auc']:.3f}",
            formats.ci(p["tpr_at_1pct_fpr"], *p["tpr_ci95"], digits=2, scale=100),
            *cells(p, audit),
        ]
        for p in points
    ]
    headers = ["setting", "test accuracy %", *(header for _, header, _ in utility), "strongest attack", "AUC",
               "TPR% @ 1% FPR", *(header for _, header, _ in audit)]  # fmt: skip
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


# Where a point's label may go, in points from the point: (dx, dy, ha, va), tried in order.
LABEL_SPOTS = [(dx * r, dy * r, "left" if dx > 0 else "right" if dx < 0 else "center",
                "bottom" if dy > 0 else "top" if dy < 0 else "center")
               for r in (1, 2.5) for dx, dy in ((6, 4), (6, -4), (-6, 4), (-6, -4), (0, 7), (0, -7), (8, 0), (-8, 0))]  # fmt: skip


def place_labels(axes, xy: list[tuple[float, float]], labels: list[str]) -> None:
    """Label each point at the first of LABEL_SPOTS that lies inside the axes and overlaps no marker
    and no earlier label (if every spot is crowded, the first inside the axes)."""
    from matplotlib.transforms import Bbox

    renderer = axes.figure.canvas.get_renderer()
    frame = axes.get_window_extent(renderer)
    taken = [Bbox.from_extents(x - 5, y - 5, x + 5, y + 5) for x, y in axes.transData.transform(xy)]  # markers

    def extent(point, spot):
        dx, dy, ha, va = spot
        text = axes.annotate(label, point, textcoords="offset points", xytext=(dx, dy), ha=ha, va=va, fontsize=8)
        box = text.get_window_extent(renderer)
        text.remove()
        return box

    for point, label in zip(xy, labels):
        boxes = [extent(point, spot) for spot in LABEL_SPOTS]
        inside = [i for i, box in enumerate(boxes) if frame.x0 <= box.x0 and box.x1 <= frame.x1
                  and frame.y0 <= box.y0 and box.y1 <= frame.y1]  # fmt: skip
        free = [i for i in inside if not any(boxes[i].overlaps(other) for other in taken)]
        best = (free or inside or [0])[0]
        dx, dy, ha, va = LABEL_SPOTS[best]
        axes.annotate(label, point, textcoords="offset points", xytext=(dx, dy), ha=ha, va=va, fontsize=8)
        taken.append(boxes[best])


def plot(points: list[dict], path: Path, title: str = "privacy–utility frontier"):
    """``path`` with suffixes .png and .svg; returns the figure (closed) for inspection.

    Error bars: the 95% CI of the TPR (over targets) and ±1 std of the test accuracy (over models).
    Labels go where they overprint nothing and stay inside the axes (:func:`place_labels`)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    from miabench.summary import percent_log_axis

    figure, axes = plt.subplots(figsize=(6, 4.2))
    xy = [(p["test_accuracy"] * 100, max(p["tpr_at_1pct_fpr"], FLOOR)) for p in points]
    for p, (x, y) in zip(points, xy):
        reference = p["setting"] == "none"
        lo, hi = (max(bound, FLOOR) for bound in p["tpr_ci95"])
        axes.errorbar(x, y, yerr=[[y - min(lo, y)], [max(hi, y) - y]], xerr=p["test_accuracy_std"] * 100,
                      fmt="*" if reference else "o", markersize=12 if reference else 6, capsize=3,
                      color="black" if reference else "tab:blue", zorder=3)  # fmt: skip
    axes.set_yscale("log")
    axes.margins(x=0.15, y=0.2)
    bottom, top = axes.get_ylim()
    lows, highs = ([max(p["tpr_ci95"][side], FLOOR) for p in points] for side in (0, 1))
    axes.set_ylim(min(bottom, min(lows) / 1.5), max(top, 1.5 * max(highs)))  # room for the bars and labels
    percent_log_axis(axes.yaxis, (1.0, 2.0, 5.0))
    axes.set_xlabel("test accuracy (%), ±1 std over models")
    axes.set_ylabel("TPR at 1% FPR, strongest attack (95% CI)")
    axes.set_title(title, fontsize=10)
    axes.grid(True, which="major", alpha=0.3)
    figure.tight_layout()  # before the labels are placed: it moves the axes
    place_labels(axes, xy, [p["setting"] for p in points])
    for suffix in (".png", ".svg"):
        figure.savefig(path.with_suffix(suffix), dpi=150)
    plt.close(figure)
    return figure


def write(out: Path, runs: list[tuple[str, list[dict]]]) -> list[dict]:
    """``out/frontier.{md,json,png,svg}`` for ``[(setting, records)]``; returns the points."""
    points = [point(setting, records) for setting, records in runs]
    out.mkdir(parents=True, exist_ok=True)
    write_bytes(out / "frontier.md", (table(points) + "\n").encode())
    write_bytes(out / "frontier.json", (json.dumps(points, indent=2) + "\n").encode())
    first = runs[0][1][0]
    names = dict.fromkeys(r.defense.name for _, records in runs for r in records if r.defense)
    defenses = ", ".join(name for name in names if name != "none") or "none"  # none is every sweep's reference
    plot(points, out / "frontier", f"privacy–utility frontier: task {first.task.name}, {defenses}, K = {first.models}")
    return points
