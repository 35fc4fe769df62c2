"""The matched-utility ranking: each defense's best privacy among its settings that keep the undefended utility.

Defined in docs/defenses.md. From the per-setting table of :func:`miabench.leaderboard.defense_view.table`
(one row per defense setting, its test accuracy and its strongest attack's TPR at 1% FPR with the CI),
for each (track, task, model family) and each utility budget b of :data:`BUDGETS` (percentage points):
the settings whose test accuracy is at least that of ``none`` minus b are eligible, and each defense is
represented by its eligible setting of the lowest strongest-attack TPR at 1% FPR (then the lowest AUC, then
the setting, for ties). The defenses are ranked by that TPR, lowest first (equal TPRs share a rank); ``none``
is listed at every budget as the reference. Only settings ranked by the defense view (attacked by every
attack of their set) are eligible, and a defense without an eligible setting at a budget is absent there.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from miabench.leaderboard import columns
from miabench.leaderboard.columns import Column, md_cell

BUDGETS = (1.0, 3.0, 5.0)  # test accuracy points below the undefended models' a setting may lose
GROUP = ["track", "task", "model_family"]
TITLE = "defenses at matched utility"
RULE = (
    "For each budget b: each defense's setting of the lowest strongest-attack TPR at 1% FPR among its settings whose "
    "test accuracy is within b points of none's (docs/defenses.md); equal TPRs share a rank."
)
FIELDS = [*GROUP, "budget", "rank", "defense", "params", "test_accuracy", "accuracy_lost", "attack", "tpr_1",
          "tpr_1_lo", "tpr_1_hi", "auc", "settings", "status"]  # fmt: skip

COLUMNS = (
    Column("budget", "within (points)", numeric=True, digits=0),
    Column("rank", "rank", numeric=True),
    Column("defense", "defense"),
    Column("model_family", "model", when=columns.several_families),
    Column("params", "best setting"),
    Column("test_accuracy", "test acc %", numeric=True, digits=2),
    Column("attack", "strongest attack"),
    Column("tpr_1", "TPR% @ 1% FPR", numeric=True, digits=2, ci=True),
    Column("settings", "eligible settings", numeric=True),
)


def _params(setting: str) -> str:
    """A setting's parameters as ``key=value`` words ("default" where it sets none)."""
    params = json.loads(setting)[1]
    return ", ".join(f"{key}={value}" for key, value in sorted(params.items())) or "default"


def table(settings: pd.DataFrame, budgets: tuple[float, ...] = BUDGETS) -> pd.DataFrame:
    """One row per (track, task, model family, budget, defense): its best eligible setting, ranked by privacy."""
    ranked = settings[settings["rank"].notna() & settings["tpr_1"].notna()]
    out = []
    for key, group in ranked.groupby(GROUP, sort=True):
        reference = group[group["defense"] == "none"]
        if reference.empty:
            continue  # no undefended utility to match
        undefended = float(reference["test_accuracy"].max())
        for budget in budgets:
            eligible = group[group["test_accuracy"] >= undefended - budget]
            rows = []
            for defense, options in eligible.groupby("defense", sort=True):
                best = options.sort_values(["tpr_1", "auc", "setting"], na_position="last").iloc[0]
                rows.append(dict(zip(GROUP, key)) | {
                    "budget": budget, "defense": defense, "params": _params(best["setting"]),
                    "test_accuracy": best["test_accuracy"], "accuracy_lost": undefended - best["test_accuracy"],
                    "attack": best["attack"], "tpr_1": best["tpr_1"], "tpr_1_lo": best["tpr_1_lo"],
                    "tpr_1_hi": best["tpr_1_hi"], "auc": best["auc"], "settings": len(options),
                    "status": best.get("status", ""),
                })  # fmt: skip
            frame = pd.DataFrame(rows)
            frame["rank"] = frame["tpr_1"].rank(method="min").astype(int)
            out.append(frame.sort_values(["rank", "auc", "defense"]))
    if not out:
        return pd.DataFrame(columns=FIELDS)
    return pd.concat(out, ignore_index=True)[FIELDS]


def shown(records: list[dict]) -> list[Column]:
    return [column for column in COLUMNS if column.when(records)]


def section(track: str, task: str, records: list[dict], level: int = 2) -> str:
    """The ``<track> / <task>: defenses at matched utility`` section, one heading level below ``level``."""
    heading = f"{'#' * (level + 1)} {md_cell(track)} / {md_cell(task)}: {TITLE}"
    return f"{heading}\n\n{md_cell(RULE)}\n\n{columns.github(records, shown(records))}"


def markdown(ranking: pd.DataFrame, level: int = 2) -> str:
    """A section per (track, task) of :func:`table`'s output where some defense other than none is in it."""
    sections = [section(track, task, group.to_dict("records"), level)
                for (track, task), group in ranking.groupby(["track", "task"], sort=True)
                if (group["defense"] != "none").any()]  # fmt: skip
    return "\n\n".join(sections) + "\n" if sections else ""


def best_tpr(ranking: pd.DataFrame, defense: str, budget: float) -> float:
    """A defense's best TPR at 1% FPR within ``budget`` (NaN where it has no eligible setting); for summaries."""
    found = ranking[(ranking["defense"] == defense) & (ranking["budget"] == budget)]
    return float(found["tpr_1"].min()) if len(found) else math.nan
