"""The leaderboard's tables, built from its entries: Markdown, CSV, JSON, LaTeX and BibTeX.

One row per setting: (track, task, task version, model family, task parameters, data
fingerprint, K, attack, defense with its params). Within each (track, task) the official rows
are ranked by TPR at 1% FPR; tracks are never mixed, and rows on an older task version or off
the track (see :mod:`miabench.leaderboard.official`) are listed apart, unranked. Of several
entries of one setting the board shows an official one first, then a verified one (the
ledger's word), then the latest submitted. Every cell is escaped for its format: Markdown
(HTML and ``|``), CSV (formula injection), LaTeX. Citations come from the registry, never
from an entry. The output depends only on the entries and the ledger (no timestamps), so
rebuilding gives identical bytes.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pandas as pd

from miabench.citations import bibtex
from miabench.errors import UserError
from miabench.leaderboard import columns, defense_view, ledger, matched, official
from miabench.leaderboard import entries as entries_mod
from miabench.leaderboard.cite import keys_of
from miabench.record import Entry
from miabench.registry import tasks

TPR_LEVELS = columns.TPR_LEVELS  # defined with the columns that show them
RANK_BY = "tpr_1"

COLUMNS = (
    ["track", "task", "task_version", "model_family", "superseded", "unofficial", "apart", "ranked", "rank"]
    + ["attack", "attack_package", "scored_from", "defense", "setting"]
    + ["auc", "auc_lo", "auc_hi"]
    + [f"{col}{part}" for col, _, _ in TPR_LEVELS for part in ("", "_lo", "_hi")]
    + ["flagged_tpr_5", "flagged_tpr_5_lo", "flagged_tpr_5_hi"]
    + ["test_accuracy", "balanced_accuracy", "K", "seed", "status", "miabench_version", "created", "submitted"]
    + ["entry_id", "path"]
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


def _scored_from(entry: Entry) -> str:
    """Where an entry scored from a published signal cube got it ("" for one that trained its models)."""
    cube = entry.cube
    if cube is None:
        return ""
    return f"cube {cube.repo}@{(cube.revision or 'main')[:8]}" if cube.repo else "cube (local folder)"


def _row(entry: Entry, defense: str, versions: dict, verified: dict) -> dict:
    task = entry.task
    current = _current_version(task.name, versions)
    superseded = current is not None and task.version != current
    unofficial = "; ".join(official.reasons(entry)) if current is not None else "task not registered"
    flagged = (entry.metrics_by_subgroup or {}).get("flagged")
    row = {
        "track": entry.track.name,
        "task": task.name,
        "task_version": task.version,
        "model_family": task.model_family,
        "superseded": superseded,
        "unofficial": unofficial,
        "apart": f"superseded: task v{task.version}" if superseded else unofficial,
        "ranked": not superseded and not unofficial,
        "attack": entry.attack.name,
        "attack_package": f"{package.name} {package.version}" if (package := entry.attack.package) else "",
        "scored_from": _scored_from(entry),
        "defense": defense,
        "setting": _setting(entry),
    }
    row["auc"], row["auc_lo"], row["auc_hi"] = _summary(entry.metrics.auc)
    for col, key, _ in TPR_LEVELS:
        row[col], row[f"{col}_lo"], row[f"{col}_hi"] = _summary(entry.metrics.tpr_at_fpr[key], 100)
    flagged_tpr = flagged.tpr_at_fpr["0.05"] if flagged else None
    row["flagged_tpr_5"], row["flagged_tpr_5_lo"], row["flagged_tpr_5_hi"] = _summary(flagged_tpr, 100)
    utility = entry.utility
    row["test_accuracy"] = utility.test_accuracy.mean * 100 if utility else math.nan
    row["balanced_accuracy"] = (
        utility.balanced_accuracy.mean * 100 if utility and utility.balanced_accuracy else math.nan
    )
    row |= {
        "K": entry.models,
        "seed": entry.seed,
        "status": ledger.status(entries_mod.entry_key(entry), entry, verified),
        "miabench_version": entry.miabench.version,
        "created": entry.created,
        "submitted": entry.provenance.submitted,
        "entry_id": entries_mod.entry_id(entry),
        "path": f"{entries_mod.entry_key(entry)}.json",
    }
    return row


def rows(entries: list[Entry], verified: dict | None = None) -> pd.DataFrame:
    """One row per setting, the official rows ranked within each (track, task); the others last, unranked.

    ``verified`` is the ledger (by default the repository's). Of several entries of one setting
    the board keeps an official one, then a verified one, then the latest submitted (then the entry
    id, so that the choice never depends on the order the entries came in).
    """
    verified = ledger.load() if verified is None else verified
    entries = sorted(entries, key=_order)  # the order entries were found in must not change the output
    labels = _defense_labels(entries)
    versions: dict = {}
    table = pd.DataFrame([_row(e, labels[_setting(e)], versions, verified) for e in entries], columns=COLUMNS)
    if table.empty:
        return table
    # The setting is everything that makes two results comparable: task parameters, data, K, defense params.
    table["_task"] = [json.dumps([e.task.params, e.task.data_fingerprint], sort_keys=True) for e in entries]
    table["_verified"] = table["status"] == "verified"
    table["_submitted"] = pd.to_datetime(table["submitted"], utc=True)
    key = ["track", "task", "task_version", "model_family", "_task", "K", "attack", "setting"]
    table = table.sort_values(key + ["ranked", "_verified", "_submitted", "entry_id"], na_position="first")
    table = table.drop_duplicates(key, keep="last").drop(columns=["_task", "_verified", "_submitted"])

    # Rank each (track, task) table on its official current rows only; equal TPRs share a rank.
    ranked = table["ranked"].astype(bool)
    ranks = table[ranked].groupby(["track", "task"])[RANK_BY].rank(method="min", ascending=False)
    table["rank"] = ranks.astype("Int64").reindex(table.index)
    table = table.sort_values(
        ["track", "task", "ranked", RANK_BY, "auc", "attack", "defense", "model_family", "task_version", "K"],
        ascending=[True, True, False, False, False, True, True, True, True, True],
        na_position="last",
    )
    return table.reset_index(drop=True)


def _sections(table: pd.DataFrame):
    """(track, task, ranked rows, rows listed apart) per (track, task), in a fixed order."""
    for (track, task), group in table.groupby(["track", "task"], sort=True):
        ranked = group["ranked"].astype(bool)
        yield track, task, group[ranked].to_dict("records"), group[~ranked].to_dict("records")


md_cell = columns.md_cell  # the escaping every Markdown cell gets


def _github(records: list[dict], apart: bool) -> str:
    return columns.github(records, columns.shown(records, apart))


def _markdown(table: pd.DataFrame, top: int | None = None, level: int = 2) -> str:
    settings = defense_view.with_defenses(defense_view.table(table))
    sections = []
    for track, task, current, apart in _sections(table):
        parts = [f"{'#' * level} {md_cell(track)} / {md_cell(task)}"]
        if current:  # the versions every ranked row shares: the task's and the benchmark release's
            releases = ", ".join(sorted({str(row["miabench_version"]) for row in current}))
            parts.append(md_cell(f"task version {current[0]['task_version']} · miabench {releases}"))
            parts.append(_github(current[:top], False))
        if apart and top is None:
            parts.append("Listed apart, not ranked (an older task version, or not the track's configuration):")
            parts.append(_github(apart, True))
        defended = settings[(settings["track"] == track) & (settings["task"] == task)].to_dict("records")
        if top is None and defended:  # defenses were evaluated here: which one is the most private
            parts.append(defense_view.section(track, task, defended, level))
            ranking = matched.table(settings[(settings["track"] == track) & (settings["task"] == task)])
            if (ranking["defense"] != "none").any():  # and which keeps the most privacy at matched utility
                parts.append(matched.section(track, task, ranking.to_dict("records"), level))
        sections.append("\n\n".join(parts))
    return "\n\n".join(sections) + "\n" if sections else ""


def markdown(entries: list[dict], top: int | None = None, level: int = 2) -> str:
    """The content of ``leaderboard.md``: a ``## <track> / <task>`` section per pair, ranked by TPR at 1% FPR,
    with its per-defense table where defenses were evaluated.

    ``top`` keeps the best rows of each section only, without the defense tables (the README's summary);
    ``level`` sets the heading depth.
    """
    return _markdown(rows(entries), top, level)


def defense_markdown(entries: list[Entry], level: int = 2) -> str:
    """The per-defense tables alone, for the (track, task) pairs where defenses were evaluated."""
    return defense_view.markdown(defense_view.with_defenses(defense_view.table(rows(entries))), level)


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


def _tabular(comment: str, records: list[dict], apart: bool) -> str:
    shown = columns.shown(records, apart)
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
    for track, task, current, apart in _sections(table):
        if current:
            blocks.append(_tabular(f"{track} / {task}: ranked by TPR at 1% FPR", current, False))
        if apart:
            blocks.append(_tabular(f"{track} / {task}: listed apart, not ranked", apart, True))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def citations(entries: list[Entry]) -> str:
    """miabench's own entry, then the registry's citations of every component the entries use, by key.

    The keys come from the registered components, never from an entry's ``citation`` field.
    """
    used = {(kind, getattr(entry, kind).name) for entry in entries for kind in ("task", "attack", "defense")}
    keys = set()
    for kind, name in used:
        try:
            keys.update(keys_of(kind, name))
        except UserError:  # not registered here: validation refuses such an entry
            continue
    return bibtex(sorted(keys))


CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A text cell a spreadsheet shows as text: one that starts like a formula gets a leading quote."""
    return f"'{value}" if isinstance(value, str) and value.startswith(CSV_FORMULA) else value


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


def build(entries: list[Entry], out_dir: Path, verified: dict | None = None) -> dict[str, Path]:
    """Write leaderboard.{md,csv,json,tex} and citations.bib to ``out_dir``; return their paths by format."""
    table = rows(entries, verified)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = [{key: _json_value(value) for key, value in record.items()} for record in table.to_dict("records")]
    texts = {
        "md": _markdown(table),
        "csv": table.map(csv_cell).to_csv(index=False, lineterminator="\n"),
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
    """The valid entries under ``paths`` (files or folders), or all of the repository's; an entry that
    fails validation is left out with a warning (``miabench leaderboard validate`` says why)."""
    from miabench.leaderboard.validate import validate_file

    chosen, failed = [], []
    for path in entries_mod.find(paths):
        (failed if validate_file(path) else chosen).append(path)
    if failed:
        warnings.warn(f"left out {len(failed)} entries that fail validation, e.g. {failed[0]}: run "
                      "'miabench leaderboard validate' to see why", stacklevel=2)  # fmt: skip
    return [entries_mod.read(path) for path in chosen]
