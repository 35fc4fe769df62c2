"""The leaderboard as one self-contained static web page: ``index.html``.

The page holds a ranked table per (track, task), the same rows and columns as ``leaderboard.md`` (see
:func:`miabench.leaderboard.build.rows` and :mod:`miabench.leaderboard.columns`), and where defenses were
evaluated a second table of the defense settings ranked by privacy (:mod:`miabench.leaderboard.defense_view`),
rendered from the Jinja2 templates in ``templates/`` so that it reads without JavaScript. The script and the style
sheet in ``static/`` are inlined (no CDN, no external file); the script adds header sorting,
filters, a log-log ROC plot per table for the entries that carry a mean ROC curve, and a
privacy-utility scatter per table where defenses were evaluated (its points chosen here, by
:func:`miabench.frontier.ranked`). The data for the script sits in the page as a JSON blob. The
bytes depend only on the entries (no timestamps): rebuilding gives the same file.
"""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from miabench import formats, frontier
from miabench.leaderboard import build, columns, defense_view, matched
from miabench.leaderboard import entries as entries_mod
from miabench.record import Entry

TITLE = "miabench leaderboard"
MAX_ROC_CURVES = 8
FILTERS = ("track", "task", "attack", "defense", "status")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _header(text: str) -> str:
    """A column header that may wrap to fit a wide table, but never inside a bracket: "AUC" over "[95% CI]"."""
    return re.sub(r"\[[^\]]*\]", lambda bracket: bracket[0].replace(" ", "\u00a0"), text)


_TEMPLATES = Environment(
    loader=PackageLoader("miabench.leaderboard"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


_TEMPLATES.filters["plural"] = _plural
_TEMPLATES.filters["header"] = _header
# The data blob: compact and NaN-free; tojson also escapes <, >, & and ' so that no name can end the script.
_TEMPLATES.policies["json.dumps_kwargs"] = {
    "sort_keys": True,
    "separators": (",", ":"),
    "ensure_ascii": False,
    "allow_nan": False,
}


def _static(name: str) -> Markup:
    """A file of ``static/``, to be inlined as it is (it is ours, not user input)."""
    return Markup(resources.files("miabench.leaderboard").joinpath("static", name).read_text(encoding="utf-8"))


def _num(value, digits: int = 4) -> float | None:
    """A JSON-safe float rounded to ``digits`` significant digits, or None for a missing value."""
    if formats.missing(value) or not math.isfinite(value):
        return None
    return float(f"{float(value):.{digits}g}")


def _roc_of(entry: Entry) -> dict | None:
    """The entry's mean ROC as rounded [fpr, tpr] lists, or None when it has none (or too few points)."""
    if entry.roc is None or len(entry.roc.fpr) != len(entry.roc.tpr):
        return None
    points = [(_num(f, 5), _num(t, 5)) for f, t in zip(entry.roc.fpr, entry.roc.tpr)]
    points = [(f, t) for f, t in points if f is not None and t is not None]
    if len(points) < 2:
        return None
    return {"fpr": [f for f, _ in points], "tpr": [t for _, t in points]}


def _entry_key(entry: Entry) -> tuple[str, ...]:
    """What tells an entry from every other, in fields the rows table has too (see _entry_of)."""
    return entry.track.name, entry.task.name, entries_mod.entry_id(entry), entry.created, entry.provenance.submitted


def _section_id(track: str, task: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{track}--{task}")
    return f"board-{safe}"


def _examples_text(counts: list[float]) -> str:
    """N, the examples judged per target: one number, or the range over a table's rows ("" when none is known)."""
    if not counts:
        return ""
    low, high = (f"{round(count):,}" for count in (min(counts), max(counts)))
    return low if low == high else f"{low}–{high}"


def _entry_of(record: dict, by_key: dict[tuple[str, ...], Entry]) -> Entry:
    """The entry a row of the table was made from."""
    return by_key[(record["track"], record["task"], record["entry_id"], record["created"], record["submitted"])]


def _plot_rows(records: list[dict], by_key: dict) -> list[dict]:
    """What the plots need of each row (in table order; the rows' ``data-row`` index into this list)."""
    out = []
    for record in records:
        out.append(
            {
                "attack": str(record["attack"]),
                "defense": str(record["defense"]),
                "model_family": str(record["model_family"]),
                "apart": not record["ranked"],  # listed apart: in no plot
                "tpr_1": _num(record["tpr_1"]),
                "auc": _num(record["auc"]),
                "test_accuracy": _num(record["test_accuracy"]),
                "roc": _roc_of(_entry_of(record, by_key)),
            }
        )
    return out


def _section(track: str, task: str, records: list[dict], settings: list[dict], by_key: dict) -> dict:
    """What the section template shows, and under ``data`` what the script draws."""
    section_id = _section_id(track, task)
    current = [r for r in records if r["ranked"]]
    examples = [_entry_of(r, by_key).metrics.examples for r in current]
    families = sorted({str(r["model_family"]) for r in current})
    plot_rows = _plot_rows(records, by_key)
    # Per defense setting and model, its rows from the strongest attack down: the scatter shows the first one left.
    points = [
        {**row, "row": i, "point": (row["defense"], row["model_family"])}
        for i, row in enumerate(plot_rows)
        if not row["apart"]
    ]
    ranked = frontier.ranked(points, setting="point")
    defenses = settings
    return {
        "id": section_id,
        "track": track,
        "task": task,
        "versions": sorted({str(r["task_version"]) for r in current}),
        "families": families,
        "examples": _examples_text(examples),
        "ranked": len(current),
        "apart": len(records) - len(current),
        "columns": columns.shown(records),
        "rows": records,
        "defense_columns": defense_view.shown(defenses),
        "defenses": defenses,
        "data": {
            "id": section_id,
            "track": track,
            "task": task,
            "families": families,
            "rows": plot_rows,
            "frontier": [[row["row"] for row in group] for group in ranked],
        },
    }


def render(entries: list[Entry], verified: dict | None = None) -> str:
    """The page's HTML for these entries (``verified``: the ledger, by default the repository's)."""
    table = build.rows(entries, verified)
    by_key = {_entry_key(entry): entry for entry in entries}
    settings = defense_view.with_defenses(defense_view.table(table))
    settings_by_task = {key: group.to_dict("records") for key, group in settings.groupby(["track", "task"])}
    # rows() orders each (track, task) group: ranked rows first, those listed apart last
    groups = table.groupby(["track", "task"], sort=True)
    sections = [
        _section(track, task, group.to_dict("records"), settings_by_task.get((track, task), []), by_key)
        for (track, task), group in groups
    ]
    ranking = matched.table(settings)  # the matched-utility ranking, under each section's defense table
    ranking_by_task = {key: group.to_dict("records") for key, group in ranking.groupby(["track", "task"])}
    for section in sections:
        rows = ranking_by_task.get((section["track"], section["task"]), [])
        rows = rows if any(row["defense"] != "none" for row in rows) else []
        section |= {"matched": rows, "matched_columns": matched.shown(rows)}
    return _TEMPLATES.get_template("index.html.j2").render(
        title=TITLE,
        sections=sections,
        settings=len(table),
        entries=len(entries),
        options={col: sorted({str(v) for v in table[col]}) for col in FILTERS},
        ranked_by=build.RANK_BY,
        defense_title=defense_view.TITLE,
        defense_rule=defense_view.RULE,
        matched_title=matched.TITLE,
        matched_rule=matched.RULE,
        data={"max_curves": MAX_ROC_CURVES, "sections": [section["data"] for section in sections]},
        css=_static("leaderboard.css"),
        js=_static("leaderboard.js"),
    )


def write_site(entries: list[Entry], out_dir: Path, verified: dict | None = None) -> Path:
    """Write the self-contained ``index.html`` for these entries into ``out_dir``; return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(render(entries, verified), encoding="utf-8")
    return path


def write_board(entries: list[Entry], out_dir: Path, verified: dict | None = None) -> list[Path]:
    """Every output of ``miabench leaderboard build``: the tables, the BibTeX and ``index.html``."""
    return [*build.build(entries, out_dir, verified).values(), write_site(entries, out_dir, verified)]
