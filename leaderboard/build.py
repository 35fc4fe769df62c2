"""The leaderboard's tables, built from its entries: Markdown, CSV, JSON, LaTeX and BibTeX.

One row per setting: (track, task, task version, model family, attack, defense with its
params). Within each (track, task) the rows are ranked by TPR at 1% FPR; tracks are never
mixed, and rows on a task version other than the registered one are listed apart, unranked.
The output depends only on the entries (no timestamps), so rebuilding gives identical bytes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from miabench.citations import bibtex
from miabench.errors import UserError
from miabench.leaderboard import columns
from miabench.leaderboard import entries as entries_mod
from miabench.record import Entry
from miabench.registry import tasks

TPR_LEVELS = columns.TPR_LEVELS  # defined with the columns that show them
RANK_BY = "tpr_1"

COLUMNS = (
    ["track", "task", "task_version", "model_family", "superseded", "rank", "attack", "defense"]
    + ["auc", "auc_lo", "auc_hi"]
    + [f"{col}{part}" for col, _, _ in TPR_LEVELS for part in ("", "_lo", "_hi")]
    + ["flagged_tpr_5", "flagged_tpr_5_lo", "flagged_tpr_5_hi"]
    + ["test_accuracy", "K", "seed", "status", "miabench_version", "created", "entry_id", "path"]
)


def _summary(summary, scale: float = 1.0) -> tuple[float, float, float]:
    if summary is None:
        return math.nan, math.nan, math.nan
    lo, hi = summary.ci95
    return summary.mean * scale, lo * scale, hi * scale


def _setting(entry: Entry) -> str:
    """The defense name and params as one canonical string: equal strings are the same setting."""
    return json.dumps([entry.defense.name, entry.defense.params], sort_keys=True)


def _defense_labels(entries: list[Entry]) -> dict[str, str]:
    """``name(k=v)`` with only the params that vary between the entries of that defense: short but distinct."""
    settings: dict[str, list[dict]] = {}
    for entry in entries:
        settings.setdefault(entry.defense.name, []).append(entry.defense.params)
    labels = {}
    for name, all_params in settings.items():
        keys = sorted({key for params in all_params for key in params})
        varying = [key for key in keys if len({json.dumps(p.get(key)) for p in all_params}) > 1]
        for params in all_params:
            shown = ", ".join(f"{key}={params.get(key)}" for key in varying)
            labels[json.dumps([name, params], sort_keys=True)] = f"{name}({shown})" if shown else name
    return labels


def _current_version(task: str, cache: dict) -> str | None:
    """The registered task's version, or None for a task this install does not know."""
    if task not in cache:
        try:
            cache[task] = tasks.entry(task).component_class.metadata.version
        except UserError:  # not registered here: nothing to be superseded by
            cache[task] = None
    return cache[task]


def _row(entry: Entry, defense: str, versions: dict) -> dict:
    task = entry.task
    current = _current_version(task.name, versions)
    flagged = (entry.metrics_by_subgroup or {}).get("flagged")
    row = {
        "track": entry.track.name,
        "task": task.name,
        "task_version": task.version,
        "model_family": task.model_family,
        "superseded": current is not None and task.version != current,
        "attack": entry.attack.name,
        "defense": defense,
    }
    row["auc"], row["auc_lo"], row["auc_hi"] = _summary(entry.metrics.auc)
    for col, key, _ in TPR_LEVELS:
        row[col], row[f"{col}_lo"], row[f"{col}_hi"] = _summary(entry.metrics.tpr_at_fpr[key], 100)
    flagged_tpr = flagged.tpr_at_fpr["0.05"] if flagged else None
    row["flagged_tpr_5"], row["flagged_tpr_5_lo"], row["flagged_tpr_5_hi"] = _summary(flagged_tpr, 100)
    row["test_accuracy"] = entry.utility.test_accuracy.mean * 100 if entry.utility else math.nan
    row |= {
        "K": entry.models,
        "seed": entry.seed,
        "status": entry.provenance.status,
        "miabench_version": entry.miabench.version,
        "created": entry.created,
        "entry_id": entries_mod.entry_id(entry),
        "path": entries_mod.entry_path(entry, Path(".")).as_posix(),
    }
    return row


def rows(entries: list[Entry]) -> pd.DataFrame:
    """One row per setting, ranked within each (track, task); superseded rows last and unranked.

    Of several entries for one setting, the one with more models K wins, then the latest ``created``
    (then the entry id, so that the choice never depends on the order the entries came in).
    """
    entries = sorted(entries, key=_order)  # the order entries were found in must not change the output
    labels = _defense_labels(entries)
    versions: dict = {}
    table = pd.DataFrame([_row(e, labels[_setting(e)], versions) for e in entries], columns=COLUMNS)
    if table.empty:
        return table
    # The setting includes the defense's full params (its label may hide ones that never vary).
    table["_setting"] = [_setting(e) for e in entries]
    key = ["track", "task", "task_version", "model_family", "attack", "_setting"]
    table = table.sort_values(key + ["K", "created", "entry_id"], na_position="first")
    table = table.drop_duplicates(key, keep="last").drop(columns="_setting")

    # Rank each (track, task) table on its current rows only; equal TPRs share a rank.
    current = ~table["superseded"]
    ranks = table[current].groupby(["track", "task"])[RANK_BY].rank(method="min", ascending=False)
    table["rank"] = ranks.astype("Int64").reindex(table.index)
    table = table.sort_values(
        ["track", "task", "superseded", RANK_BY, "auc", "attack", "defense", "model_family", "task_version"],
        ascending=[True, True, True, False, False, True, True, True, True],
        na_position="last",
    )
    return table.reset_index(drop=True)


def _sections(table: pd.DataFrame):
    """(track, task, current rows, superseded rows) per (track, task), in a fixed order."""
    for (track, task), group in table.groupby(["track", "task"], sort=True):
        yield track, task, group[~group["superseded"]].to_dict("records"), group[group["superseded"]].to_dict("records")


def _github(records: list[dict], superseded: bool) -> str:
    shown = columns.shown(records, superseded)
    cells = [[column.text(record) for column in shown] for record in records]
    return tabulate(cells, headers=[column.header for column in shown], tablefmt="github", disable_numparse=True)


def _markdown(table: pd.DataFrame, top: int | None = None, level: int = 2) -> str:
    sections = []
    for track, task, current, superseded in _sections(table):
        parts = [f"{'#' * level} {track} / {task}"]
        if current:  # the versions every ranked row shares: the task's and the benchmark release's
            releases = ", ".join(sorted({str(row["miabench_version"]) for row in current}))
            parts.append(f"task version {current[0]['task_version']} · miabench {releases}")
            parts.append(_github(current[:top], False))
        if superseded and top is None:
            parts.append("Superseded task versions (results on an older version of the task; not ranked):")
            parts.append(_github(superseded, True))
        sections.append("\n\n".join(parts))
    return "\n\n".join(sections) + "\n" if sections else ""


def markdown(entries: list[dict], top: int | None = None, level: int = 2) -> str:
    """The content of ``leaderboard.md``: a ``## <track> / <task>`` section per pair, ranked by TPR at 1% FPR.

    ``top`` keeps the best rows of each section only (the README's summary); ``level`` sets the heading depth.
    """
    return _markdown(rows(entries), top, level)


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(char, char) for char in str(text))


def _tabular(comment: str, records: list[dict], superseded: bool) -> str:
    shown = columns.shown(records, superseded)
    align = "".join("r" if column.numeric else "l" for column in shown)
    comment = " ".join(comment.splitlines())  # a name must not end the comment and start LaTeX code
    lines = [f"% {comment}", r"\begin{tabular}{" + align + "}", r"\toprule"]
    lines.append(" & ".join(tex_escape(column.header) for column in shown) + r" \\")
    lines.append(r"\midrule")
    lines += [" & ".join(tex_escape(column.text(record)) for column in shown) + r" \\" for record in records]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def _latex(table: pd.DataFrame) -> str:
    blocks = []
    for track, task, current, superseded in _sections(table):
        if current:
            blocks.append(_tabular(f"{track} / {task}: ranked by TPR at 1% FPR", current, False))
        if superseded:
            blocks.append(_tabular(f"{track} / {task}: superseded task versions, not ranked", superseded, True))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def citations(entries: list[Entry]) -> str:
    """miabench's own entry, then every entry the entries cite, sorted by key."""
    keys = {
        key for entry in entries for field in ("task", "attack", "defense") for key in getattr(entry.citation, field)
    }
    return bibtex(sorted(keys))


def _order(entry: Entry) -> tuple:
    return (entry.track.name, entries_mod.entry_id(entry), entry.created)


def _json_value(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA:
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def build(entries: list[Entry], out_dir: Path) -> dict[str, Path]:
    """Write leaderboard.{md,csv,json,tex} and citations.bib to ``out_dir``; return their paths by format."""
    table = rows(entries)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = [{key: _json_value(value) for key, value in record.items()} for record in table.to_dict("records")]
    texts = {
        "md": _markdown(table),
        "csv": table.to_csv(index=False, lineterminator="\n"),
        "json": json.dumps(records, indent=1) + "\n",
        "tex": _latex(table),
        "bib": citations(entries),
    }
    paths = {}
    for fmt, text in texts.items():
        name = "citations.bib" if fmt == "bib" else f"leaderboard.{fmt}"
        paths[fmt] = out_dir / name
        paths[fmt].write_text(text, encoding="utf-8")
    return paths


def load(paths: list[Path] | None = None) -> list[Entry]:
    """The entries under ``paths`` (files or folders), or all of the repository's entries."""
    return [entries_mod.read(path) for path in entries_mod.find(paths)]
