"""The leaderboard's tables, built from its entries: Markdown, CSV, JSON, LaTeX and BibTeX.

One row per setting: (track, task, task version, model family, attack, defense with its
params). Within each (track, task) the rows are ranked by TPR at 1% FPR; tracks are never
mixed, and rows on a task version other than the registered one are listed apart, unranked.
The output depends only on the entries (no timestamps), so rebuilding gives identical bytes.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from miabench.errors import UserError
from miabench.leaderboard import entries as entries_mod
from miabench.registry import tasks

MIABENCH_BIBTEX = """@misc{miabench,
  title        = {miabench: a benchmark and leaderboard for membership inference attacks and defenses on classifiers},
  author       = {{The miabench authors}},
  year         = {2026},
  note         = {Version 0.1.0, MIT license}
}"""

# (column, FPR key in the record, label): TPRs shown as percentages.
TPR_LEVELS = (("tpr_0.1", "0.001", "0.1%"), ("tpr_1", "0.01", "1%"), ("tpr_5", "0.05", "5%"))
RANK_BY = "tpr_1"

COLUMNS = (
    ["track", "task", "task_version", "model_family", "superseded", "rank", "attack", "defense"]
    + ["auc", "auc_lo", "auc_hi"]
    + [f"{col}{part}" for col, _, _ in TPR_LEVELS for part in ("", "_lo", "_hi")]
    + ["flagged_tpr_5", "flagged_tpr_5_lo", "flagged_tpr_5_hi"]
    + ["test_accuracy", "K", "seed", "status", "miabench_version", "created", "entry_id", "path"]
)


def _summary(summary: dict | None, scale: float = 1.0) -> tuple[float, float, float]:
    if not summary:
        return math.nan, math.nan, math.nan
    lo, hi = summary["ci95"]
    return summary["mean"] * scale, lo * scale, hi * scale


def _setting(entry: dict) -> str:
    """The defense name and params as one canonical string: equal strings are the same setting."""
    defense = entry.get("defense") or {"name": "none", "params": {}}
    return json.dumps([defense["name"], defense.get("params") or {}], sort_keys=True)


def _defense_labels(entries: list[dict]) -> dict[str, str]:
    """``name(k=v)`` with only the params that vary between the entries of that defense: short but distinct."""
    settings: dict[str, list[dict]] = {}
    for entry in entries:
        name, params = json.loads(_setting(entry))
        settings.setdefault(name, []).append(params)
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
            metadata = tasks.entry(task).component_class.metadata
        except UserError:  # not registered here: nothing to be superseded by
            metadata = None
        cache[task] = getattr(metadata, "version", None)
    return cache[task]


def _row(entry: dict, defense: str, versions: dict) -> dict:
    task = entry["task"]
    track = entries_mod.track(entry)
    current = _current_version(task["name"], versions)
    flagged = (entry.get("metrics_by_subgroup") or {}).get("flagged")
    utility = (entry.get("utility") or {}).get("test_accuracy")
    provenance = entry.get("provenance") or {}
    row = {
        "track": track,
        "task": task["name"],
        "task_version": task.get("version"),
        "model_family": task.get("model_family"),
        "superseded": current is not None and task.get("version") != current,
        "attack": entry["attack"]["name"],
        "defense": defense,
    }
    row["auc"], row["auc_lo"], row["auc_hi"] = _summary(entry["metrics"]["auc"])
    for col, key, _ in TPR_LEVELS:
        row[col], row[f"{col}_lo"], row[f"{col}_hi"] = _summary(entry["metrics"]["tpr_at_fpr"][key], 100)
    flagged_tpr = flagged["tpr_at_fpr"]["0.05"] if flagged else None
    row["flagged_tpr_5"], row["flagged_tpr_5_lo"], row["flagged_tpr_5_hi"] = _summary(flagged_tpr, 100)
    row["test_accuracy"] = utility["mean"] * 100 if utility else math.nan
    row |= {
        "K": entry["models"],
        "seed": entry.get("seed"),
        "status": provenance.get("status", "pending"),
        "miabench_version": (entry.get("miabench") or {}).get("version"),
        "created": entry.get("created") or "",
        "entry_id": entries_mod.entry_id(entry),
        "path": entries_mod.entry_path(entry, Path(".")).as_posix(),
    }
    return row


def rows(entries: list[dict]) -> pd.DataFrame:
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


def _ci(mean: float, lo: float, hi: float, digits: int = 2) -> str:
    if pd.isna(mean):
        return "n/a"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _display(records: list[dict], superseded: bool) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of one table, as plain text (each format escapes them its own way)."""
    show_family = len({r["model_family"] for r in records}) > 1
    show_flagged = any(not pd.isna(r["flagged_tpr_5"]) for r in records)
    headers = ["task version" if superseded else "rank", "attack", "defense"]
    headers += ["model"] if show_family else []
    headers += ["AUC [95% CI]"] + [f"TPR% @ {label} FPR" for _, _, label in TPR_LEVELS]
    headers += ["flagged TPR% @ 5% FPR"] if show_flagged else []
    headers += ["test acc %", "K", "status"]
    cells = []
    for r in records:
        cell = [r["task_version"] if superseded else r["rank"], r["attack"], r["defense"]]
        cell += [r["model_family"]] if show_family else []
        cell += [_ci(r["auc"], r["auc_lo"], r["auc_hi"], 3)]
        cell += [_ci(r[col], r[f"{col}_lo"], r[f"{col}_hi"]) for col, _, _ in TPR_LEVELS]
        cell += [_ci(r["flagged_tpr_5"], r["flagged_tpr_5_lo"], r["flagged_tpr_5_hi"])] if show_flagged else []
        cell += ["n/a" if pd.isna(r["test_accuracy"]) else f"{r['test_accuracy']:.2f}", r["K"], r["status"]]
        cells.append([str(value) for value in cell])
    return headers, cells


def _sections(table: pd.DataFrame):
    """(track, task, current rows, superseded rows) per (track, task), in a fixed order."""
    for (track, task), group in table.groupby(["track", "task"], sort=True):
        yield track, task, group[~group["superseded"]].to_dict("records"), group[group["superseded"]].to_dict("records")


def _github(headers: list[str], cells: list[list[str]]) -> str:
    return tabulate(cells, headers=headers, tablefmt="github", disable_numparse=True)


def _markdown(table: pd.DataFrame, top: int | None = None, level: int = 2) -> str:
    sections = []
    for track, task, current, superseded in _sections(table):
        parts = [f"{'#' * level} {track} / {task}"]
        if current:  # the versions every ranked row shares: the task's and the benchmark release's
            releases = ", ".join(sorted({str(row["miabench_version"]) for row in current}))
            parts.append(f"task version {current[0]['task_version']} · miabench {releases}")
            parts.append(_github(*_display(current[:top], False)))
        if superseded and top is None:
            parts.append("Superseded task versions (results on an older version of the task; not ranked):")
            parts.append(_github(*_display(superseded, True)))
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


_TEXT_COLUMNS = {"attack", "defense", "model", "status"}


def _tabular(comment: str, headers: list[str], cells: list[list[str]]) -> str:
    align = "".join("l" if h in _TEXT_COLUMNS else "r" for h in headers)
    lines = [f"% {comment}", r"\begin{tabular}{" + align + "}", r"\toprule"]
    lines.append(" & ".join(tex_escape(h) for h in headers) + r" \\")
    lines.append(r"\midrule")
    lines += [" & ".join(tex_escape(c) for c in cell) + r" \\" for cell in cells]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def _latex(table: pd.DataFrame) -> str:
    blocks = []
    for track, task, current, superseded in _sections(table):
        if current:
            blocks.append(_tabular(f"{track} / {task}: ranked by TPR at 1% FPR", *_display(current, False)))
        if superseded:
            blocks.append(
                _tabular(f"{track} / {task}: superseded task versions, not ranked", *_display(superseded, True))
            )
    return "\n\n".join(blocks) + "\n" if blocks else ""


_BIB_START = re.compile(r"^\s*@", re.MULTILINE)
_BIB_KEY = re.compile(r"@\s*\w+\s*\{\s*([^,\s]+)\s*,")


def bib_entries(text: str) -> list[tuple[str, str]]:
    """(key, entry) for each BibTeX entry in ``text``; entries start with ``@`` at the start of a line."""
    starts = [match.start() for match in _BIB_START.finditer(text or "")]
    found = []
    for start, end in zip(starts, starts[1:] + [len(text or "")]):
        chunk = text[start:end].strip()
        match = _BIB_KEY.match(chunk)
        if match:
            found.append((match.group(1), chunk))
    return found


def citations(entries: list[dict]) -> str:
    """miabench's own entry, then every distinct cited entry sorted by key (the first seen wins a key)."""
    by_key = {"miabench": MIABENCH_BIBTEX}
    for entry in sorted(entries, key=_order):
        for field in ("task", "attack", "defense"):
            for key, bib in bib_entries((entry.get("citation") or {}).get(field) or ""):
                by_key.setdefault(key.lower(), bib)
    ordered = [by_key.pop("miabench")] + [by_key[key] for key in sorted(by_key)]
    return "\n\n".join(ordered) + "\n"


def _order(entry: dict) -> tuple:
    return (entries_mod.track(entry), entries_mod.entry_id(entry), entry.get("created") or "")


def _json_value(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA:
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def build(entries: list[dict], out_dir: Path) -> dict[str, Path]:
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


def load(paths: list[Path] | None = None) -> list[dict]:
    """The entries under ``paths`` (files or folders), or all of the repository's entries."""
    return [entries_mod.read(path) for path in entries_mod.find(paths)]
