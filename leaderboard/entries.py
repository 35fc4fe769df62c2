"""Leaderboard entries: a result record plus its provenance, one JSON file each.

Entries live at ``leaderboard/entries/<track>/<task>/<entry-id>.json`` (after
RobustBench's model folders). An entry is the record exactly as the harness wrote
it, with one more key, ``provenance``: who submitted it, when, its ``status``
(``pending`` until a re-run reproduces it, then ``verified``), and where its
per-example scores file is published (the file itself stays out of git; the record
carries its checksum); and ``roc``, the mean ROC on a log-spaced FPR grid, for plots.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from miabench.atomic import write_json
from miabench.errors import UserError

ENTRIES_DIR = Path(__file__).resolve().parent / "entries"
STATUSES = ("pending", "verified")


def track(record: dict) -> str:
    """The harness track of a record: its profile, or for records older than profiles, its device."""
    profile = record.get("profile")
    if profile:
        return profile["name"]
    return "cpu" if record["environment"]["device"] == "cpu" else "gpu"


def entry_id(record: dict) -> str:
    """Attack, defense and a short config hash: distinct settings of one defense get distinct ids."""
    return f"{record['attack']['name']}--{record['defense']['name']}--{record['config_hash'][:12]}"


def entry_path(record: dict, root: Path = ENTRIES_DIR) -> Path:
    return Path(root) / track(record) / record["task"]["name"] / f"{entry_id(record)}.json"


def make_entry(record: dict, submitted_by: str, scores_url: str | None = None) -> dict:
    provenance = {
        "submitted_by": submitted_by,
        "submitted": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "status": "pending",
        "commit": record["miabench"]["commit"],
        "scores_url": scores_url,
    }
    return {**record, "provenance": provenance}


def record_of(entry: dict) -> dict:
    """The result record an entry holds (without its provenance and the ROC derived from its scores)."""
    return {key: value for key, value in entry.items() if key not in ("provenance", "roc")}


def read(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: not a readable JSON entry ({error}); restore it from git or submit the run again")


def find(paths: list[Path] | None = None, root: Path = ENTRIES_DIR) -> list[Path]:
    """Entry files under ``paths`` (files or folders), or every entry under ``root``."""
    found = []
    for path in [Path(p) for p in paths] if paths else [Path(root)]:
        found += sorted(path.rglob("*.json")) if path.is_dir() else [path]
    return found


def run_records(run_dir: Path) -> list[tuple[Path, dict]]:
    """The records of a run folder (``<run>/<attack>/result.json``) or of one attack's folder."""
    run_dir = Path(run_dir)
    files = [run_dir / "result.json"] if (run_dir / "result.json").is_file() else sorted(run_dir.glob("*/result.json"))
    if not files:
        raise UserError(f"{run_dir} holds no result.json: give the --out folder of a 'miabench run'")
    return [(file, json.loads(file.read_text())) for file in files]


def write(entry: dict, root: Path = ENTRIES_DIR) -> Path:
    path = entry_path(entry, root)
    write_json(path, entry)
    return path
