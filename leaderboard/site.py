"""The leaderboard as one self-contained static web page: ``index.html``.

The page holds a ranked table per (track, task), the same rows and columns as ``leaderboard.md`` (see
:func:`miabench.leaderboard.build.rows` and :mod:`miabench.leaderboard.columns`), rendered from the
Jinja2 templates in ``templates/`` so that it reads without JavaScript. The script and the style
sheet in ``static/`` are inlined (no CDN, no external file); the script adds header sorting,
filters, a log-log ROC plot per table for the entries that carry a mean ROC curve, and a
privacy-utility scatter per table where defenses were evaluated (its points chosen here, by
:func:`miabench.frontier.ranked`). The data for the script sits in the page as a JSON blob. The
bytes depend only on the entries (no timestamps): rebuilding gives the same file.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from miabench import formats, frontier
from miabench.leaderboard import build, columns
from miabench.leaderboard import entries as entries_mod
from miabench.record import Entry

TITLE = "miabench leaderboard"
MAX_ROC_CURVES = 8
FILTERS = ("track", "task", "attack", "defense", "status")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


_TEMPLATES = Environment(
    loader=PackageLoader("miabench.leaderboard"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_TEMPLATES.filters["plural"] = _plural
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


def _entry_key(entry: Entry) -> tuple[str, str]:
    return entries_mod.entry_path(entry, Path(".")).as_posix(), entry.created


def _section_id(track: str, task: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{track}--{task}")
    return f"board-{safe}"


def _plot_rows(records: list[dict], rocs: dict) -> list[dict]:
    """What the plots need of each row (in table order; the rows' ``data-row`` index into this list)."""
    out = []
    for record in records:
        out.append(
            {
                "attack": str(record["attack"]),
                "defense": str(record["defense"]),
                "superseded": bool(record["superseded"]),
                "tpr_1": _num(record["tpr_1"]),
                "auc": _num(record["auc"]),
                "test_accuracy": _num(record["test_accuracy"]),
                "roc": rocs.get((record["path"], record["created"])),
            }
        )
    return out


def _section(track: str, task: str, records: list[dict], rocs: dict) -> dict:
    """What the section template shows, and under ``data`` what the script draws."""
    section_id = _section_id(track, task)
    current = [r for r in records if not r["superseded"]]
    plot_rows = _plot_rows(records, rocs)
    # Per defense, its rows from the strongest attack down: the scatter shows the first one the filters leave.
    ranked = frontier.ranked([{**row, "row": index} for index, row in enumerate(plot_rows)], setting="defense")
    return {
        "id": section_id,
        "track": track,
        "task": task,
        "versions": sorted({str(r["task_version"]) for r in current}),
        "families": sorted({str(r["model_family"]) for r in current}),
        "ranked": len(current),
        "superseded": len(records) - len(current),
        "columns": columns.shown(records),
        "rows": records,
        "data": {
            "id": section_id,
            "track": track,
            "task": task,
            "rows": plot_rows,
            "frontier": [[row["row"] for row in group] for group in ranked],
        },
    }


def render(entries: list[Entry]) -> str:
    """The page's HTML for these entries."""
    table = build.rows(entries)
    rocs = {}
    for entry in entries:
        roc = _roc_of(entry)
        if roc is not None:
            rocs[_entry_key(entry)] = roc
    # rows() orders each (track, task) group: ranked rows first, superseded ones last
    groups = table.groupby(["track", "task"], sort=True)
    sections = [_section(track, task, group.to_dict("records"), rocs) for (track, task), group in groups]
    return _TEMPLATES.get_template("index.html.j2").render(
        title=TITLE,
        sections=sections,
        settings=len(table),
        entries=len(entries),
        options={col: sorted({str(v) for v in table[col]}) for col in FILTERS},
        ranked_by=build.RANK_BY,
        data={"max_curves": MAX_ROC_CURVES, "sections": [section["data"] for section in sections]},
        css=_static("leaderboard.css"),
        js=_static("leaderboard.js"),
    )


def write_site(entries: list[Entry], out_dir: Path) -> Path:
    """Write the self-contained ``index.html`` for these entries into ``out_dir``; return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(render(entries), encoding="utf-8")
    return path


def write_board(entries: list[Entry], out_dir: Path) -> list[Path]:
    """Every output of ``miabench leaderboard build``: the tables, the BibTeX and ``index.html``."""
    return [*build.build(entries, out_dir).values(), write_site(entries, out_dir)]
