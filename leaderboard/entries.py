"""Leaderboard entries: a result record plus its provenance, one JSON file each.

Entries live at ``leaderboard/entries/<track>/<task>/<entry-id>.json`` (after
RobustBench's model folders). An entry (:class:`miabench.record.Entry`) is the record
exactly as the harness wrote it, with two more fields: ``provenance`` (who submitted it,
when, from which commit, where its per-example scores file is published, the file itself
staying out of git, and the earlier submissions it replaced) and ``roc``, the mean ROC on a
log-spaced FPR grid, for plots. Whether an entry is verified is the ledger's to say
(:mod:`miabench.leaderboard.ledger`), never the entry's.

Every name that becomes part of a path is of a safe alphabet, and every path is resolved
inside the entries root: no record can make ``submit`` write anywhere else.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from miabench import record as records
from miabench.errors import UserError
from miabench.record import Entry, Provenance, Record

ENTRIES_DIR = Path(__file__).resolve().parent / "entries"
SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # registered names are of this alphabet


def unsafe_names(record: Record) -> list[str]:
    """The names a path is made of that are not of the safe alphabet, one line each."""
    names = {"track": record.track.name, "task": record.task.name, "attack": record.attack.name,
             "defense": record.defense.name if record.defense else None, "config_hash": record.config_hash}  # fmt: skip
    return [
        f"{field} {value!r} is not a safe name (lower-case letters, digits, '.', '_' and '-'; 64 at most)"
        for field, value in names.items()
        if not (isinstance(value, str) and SAFE_NAME.fullmatch(value) and ".." not in value)
    ]


def entry_id(record: Record) -> str:
    """Attack, defense and a short config hash: distinct settings of one defense get distinct ids."""
    return f"{record.attack.name}--{record.defense.name}--{record.config_hash[:12]}"


def entry_key(record: Record) -> str:
    """``<track>/<task>/<entry id>``: the entry's name on the board and in the ledger."""
    return f"{record.track.name}/{record.task.name}/{entry_id(record)}"


def entry_path(record: Record, root: Path = ENTRIES_DIR) -> Path:
    """Where the entry lives under ``root``; a name that could lead elsewhere is refused."""
    problems = unsafe_names(record)
    if problems:
        raise UserError(f"cannot file the entry: {problems[0]}")
    path = Path(root) / f"{entry_key(record)}.json"
    if not path.resolve().is_relative_to(Path(root).resolve()):
        raise UserError(f"cannot file the entry: {path} is outside the entries folder {root}")
    return path


def scores_beside(path: Path) -> Path:
    """Where an entry's per-example scores are kept (ignored by git; published with the entries)."""
    return Path(path).with_suffix(".scores.npz")


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def make_entry(record: Record, submitted_by: str, scores_url: str | None = None, roc: dict | None = None) -> Entry:
    provenance = {"submitted_by": submitted_by, "submitted": now(), "commit": record.miabench.commit,
                  "scores_url": scores_url, "history": []}  # fmt: skip
    return Entry.model_validate({**record.model_dump(), "provenance": provenance, "roc": roc})


def submission(entry: Entry) -> dict:
    """The entry's own submission, as a line of a later entry's history."""
    from miabench.leaderboard.ledger import content_sha256

    provenance = entry.provenance
    return {"submitted_by": provenance.submitted_by, "submitted": provenance.submitted,
            "commit": provenance.commit, "sha256": content_sha256(entry)}  # fmt: skip


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


def resubmitted(entry: Entry, root: Path = ENTRIES_DIR, ledger: dict | None = None) -> Entry:
    """``entry`` as it is filed when an entry of its configuration exists already.

    A pending entry is replaced and its submission kept in the history. A verified one is
    never replaced: the same content adds the submission to its history (a reproduction),
    different content is refused.
    """
    from miabench.leaderboard import ledger as ledgers

    path = entry_path(entry, root)
    if not path.is_file():
        return entry
    old = read(path)
    history = [*old.provenance.model_dump()["history"], submission(old)]
    ledger = ledgers.load() if ledger is None else ledger
    if ledgers.status(entry_key(old), old, ledger) == "verified":
        if ledgers.content_sha256(entry) != ledgers.content_sha256(old):
            raise UserError(
                f"{path} is verified and a re-submission never replaces it: this run's numbers differ from the "
                "verified ones; report the difference to the maintainers (nothing was written)"
            )
        return with_history(old, [*old.provenance.model_dump()["history"], submission(entry)])
    return with_history(entry, history)


def with_history(entry: Entry, history: list) -> Entry:
    provenance = Provenance.model_validate({**entry.provenance.model_dump(), "history": history})
    return entry.model_copy(update={"provenance": provenance})
