"""Leaderboard entries: a result record plus its provenance, one JSON file each.

Entries live at ``leaderboard/entries/<track>/<task>/<entry-id>.json`` (after
RobustBench's model folders). An entry (:class:`miabench.record.Entry`) is the record
exactly as the harness wrote it, with two more fields: ``provenance`` (who submitted it,
when, its ``status``: ``pending`` until a re-run reproduces it, then ``verified``; where
its per-example scores file is published, the file itself staying out of git) and
``roc``, the mean ROC on a log-spaced FPR grid, for plots.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from miabench import record as records
from miabench.errors import UserError
from miabench.record import Entry, Record

ENTRIES_DIR = Path(__file__).resolve().parent / "entries"


def entry_id(record: Record) -> str:
    """Attack, defense and a short config hash: distinct settings of one defense get distinct ids."""
    return f"{record.attack.name}--{record.defense.name}--{record.config_hash[:12]}"


def entry_path(record: Record, root: Path = ENTRIES_DIR) -> Path:
    return Path(root) / record.track.name / record.task.name / f"{entry_id(record)}.json"


def make_entry(record: Record, submitted_by: str, scores_url: str | None = None, roc: dict | None = None) -> Entry:
    provenance = {
        "submitted_by": submitted_by,
        "submitted": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "status": "pending",
        "commit": record.miabench.commit,
        "scores_url": scores_url,
    }
    return Entry.model_validate({**record.model_dump(), "provenance": provenance, "roc": roc})


def read(path: Path) -> Entry:
    return records.read(path, Entry)


def find(paths: list[Path] | None = None, root: Path = ENTRIES_DIR) -> list[Path]:
    """Entry files under ``paths`` (files or folders), or every entry under ``root``."""
    found = []
    for path in [Path(p) for p in paths] if paths else [Path(root)]:
        found += sorted(path.rglob("*.json")) if path.is_dir() else [path]
    return found


def run_records(run_dir: Path) -> list[tuple[Path, Record]]:
    """The records of a run folder (``<run>/<attack>/result.json``) or of one attack's folder."""
    run_dir = Path(run_dir)
    files = [run_dir / "result.json"] if (run_dir / "result.json").is_file() else sorted(run_dir.glob("*/result.json"))
    if not files:
        raise UserError(f"{run_dir} holds no result.json: give the --out folder of a 'miabench run'")
    return [(file, records.read(file)) for file in files]


def write(entry: Entry, root: Path = ENTRIES_DIR) -> Path:
    return records.write(entry_path(entry, root), entry)
