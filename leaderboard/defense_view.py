"""The leaderboard per defense setting: its utility and the strongest of one fixed attack set, ranked by privacy.

One row per (track, task, model family, defense setting), built from the ranked rows of
:func:`miabench.leaderboard.build.rows`: the setting's test and balanced accuracy and the strongest
attack of its attack set on it (the highest TPR at 1% FPR, then AUC, then name). The attack set is the
one declaration :func:`miabench.spec.attack_set` (by what the defense serves: :data:`ATTACKS` for scores,
those and the label-only attacks for a defense that serves labels). Within each (track, task) the settings
are ranked by privacy: the lowest TPR of their strongest attack first. Only settings attacked by every
attack of their set are ranked; the others are listed with
what they lack, since their "strongest attack" could be weaker than the one they were spared. The
strongest of the other attacks on a setting (a new attack scored from the setting's published signal
cube, say) is shown beside it, with its package, but ranks nothing.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from miabench import formats
from miabench.leaderboard import columns
from miabench.leaderboard.columns import Column, md_cell
from miabench.spec import ATTACK_SETS, SCORE_ATTACKS, attack_set

# The set every setting that serves scores, `none` included, is judged by (miabench.spec declares it once).
ATTACKS = SCORE_ATTACKS
LABEL_EXTRA = tuple(attack for attack in ATTACK_SETS["label"] if attack not in ATTACKS)
GROUP = ["track", "task", "model_family", "setting"]
TITLE = f"defenses, ranked by privacy (strongest of: {', '.join(ATTACKS)})"
RULE = (
    "The lowest TPR at 1% FPR of its strongest attack first, then the lowest AUC; equal TPRs share a rank."
    f" A defense that serves labels only is also attacked by {', '.join(LABEL_EXTRA)}."
    " A setting that lacks one of its attacks is listed but not ranked."
)


def _any_unranked(rows: list[dict]) -> bool:
    return any(row["unranked"] for row in rows)


COLUMNS = (
    Column("rank", "rank", numeric=True),
    Column("defense", "defense"),
    Column("model_family", "model", when=columns.several_families),
    Column("test_accuracy", "test acc %", numeric=True, digits=2),
    Column("balanced_accuracy", "balanced acc %", numeric=True, digits=2),
    Column("attack", "strongest attack"),
    Column("tpr_1", "TPR% @ 1% FPR", numeric=True, digits=2, ci=True),
    Column("tpr_0.1", "TPR% @ 0.1% FPR", numeric=True, digits=2),
    Column("auc", "AUC", numeric=True, digits=3),
    Column("scored_from", "scored from", when=columns.stated("scored_from")),
    Column("other_attack", "strongest other attack: TPR% @ 1% FPR", when=columns.stated("other_attack")),
    Column("status", "status"),
    Column("unranked", "not ranked", when=_any_unranked),
)
# A setting's fields taken from its strongest attack's row, and their values where none of ATTACKS was run on it.
STRONGEST = {"attack": "", "tpr_1": math.nan, "tpr_1_lo": math.nan, "tpr_1_hi": math.nan, "tpr_0.1": math.nan}
STRONGEST |= {"auc": math.nan, "entry_id": "", "scored_from": ""}
OTHER = {"other_attack": "", "other_tpr_1": math.nan}  # the strongest attack outside ATTACKS, shown, never ranked
FIELDS = [*GROUP, "rank", "defense", "test_accuracy", "balanced_accuracy", *STRONGEST, *OTHER, "status", "lacks",
          "unranked"]  # fmt: skip


def shown(records: list[dict]) -> list[Column]:
    """The columns of a table of these settings."""
    return [column for column in COLUMNS if column.when(records)]


def attacks_of(group: pd.DataFrame) -> tuple[str, ...]:
    """The attack set a setting (its rows) is judged by."""
    return attack_set(str(group["defense"].iloc[0]))


def _strongest_first(group: pd.DataFrame) -> pd.DataFrame:
    """The group's rows of its attack set, strongest first: TPR at 1% FPR, then AUC, then the name (for ties)."""
    attacked = group[group["attack"].isin(attacks_of(group))]
    return attacked.sort_values(["tpr_1", "auc", "attack"], ascending=[False, False, True], na_position="last")


def _other(group: pd.DataFrame) -> dict:
    """The strongest attack on the setting outside its set, named with its package, and its TPR at 1% FPR."""
    others = group[~group["attack"].isin(attacks_of(group))].sort_values(
        ["tpr_1", "auc", "attack"], ascending=[False, False, True], na_position="last"
    )
    if not len(others):
        return OTHER
    top = others.iloc[0]
    package = top.get("attack_package", "")
    name = f"{top['attack']} ({package})" if package else top["attack"]
    return {"other_attack": f"{name}: {formats.fixed(top['tpr_1'], 2)}", "other_tpr_1": top["tpr_1"]}


def _setting_row(key: tuple, group: pd.DataFrame) -> dict:
    strongest = _strongest_first(group)
    top = strongest.iloc[0] if len(strongest) else None
    # The utility is the setting's; without an attack of ATTACKS it is still worth showing.
    source = group.iloc[0] if top is None else top
    lacks = ", ".join(attack for attack in attacks_of(group) if attack not in set(group["attack"]))
    row = dict(zip(GROUP, key)) | {
        "defense": source["defense"],
        "test_accuracy": source["test_accuracy"],
        "balanced_accuracy": source["balanced_accuracy"],
        "status": source["status"],
        "lacks": lacks,
        "unranked": f"lacks: {lacks}" if lacks else "",
    }
    row |= STRONGEST if top is None else {field: top.get(field, default) for field, default in STRONGEST.items()}
    return row | _other(group)


def table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (track, task, model family, defense setting), ranked by privacy within each (track, task).

    Ties in the strongest TPR at 1% FPR share a rank; a setting lacking an attack of ATTACKS has none.
    """
    rows = rows[rows["ranked"].astype(bool)]
    settings = pd.DataFrame([_setting_row(key, group) for key, group in rows.groupby(GROUP, sort=True)])
    if settings.empty:
        return pd.DataFrame(columns=FIELDS)
    complete = (settings["lacks"] == "") & settings["tpr_1"].notna()
    ranks = settings[complete].groupby(["track", "task"])["tpr_1"].rank(method="min", ascending=True)
    settings["rank"] = ranks.astype("Int64").reindex(settings.index)
    settings = settings.sort_values(
        ["track", "task", "rank", "tpr_1", "auc", "defense", "model_family", "setting"], na_position="last"
    )
    return settings[FIELDS].reset_index(drop=True)


def with_defenses(settings: pd.DataFrame) -> pd.DataFrame:
    """The settings of the (track, task) pairs where some defense other than ``none`` was evaluated."""
    defended = settings["setting"].map(lambda setting: json.loads(setting)[0] != "none")
    return settings[defended.groupby([settings["track"], settings["task"]]).transform("any")]


def section(track: str, task: str, records: list[dict], level: int = 2) -> str:
    """The ``<track> / <task>: defenses`` section of these settings, one heading level below ``level``."""
    heading = f"{'#' * (level + 1)} {md_cell(track)} / {md_cell(task)}: {TITLE}"
    return f"{heading}\n\n{md_cell(RULE)}\n\n{columns.github(records, shown(records))}"


def markdown(settings: pd.DataFrame, level: int = 2) -> str:
    """A section per (track, task) of :func:`table`'s output (``level`` is that of the board's sections)."""
    sections = [section(track, task, group.to_dict("records"), level)
                for (track, task), group in settings.groupby(["track", "task"], sort=True)]  # fmt: skip
    return "\n\n".join(sections) + "\n" if sections else ""
