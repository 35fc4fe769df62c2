"""The verified ledger: the maintainers' record of which entries a re-run reproduced.

``leaderboard/verified.json`` is the only source of "verified". Each line of it names an entry
(``<track>/<task>/<entry id>``), the sha256 of the entry's content exactly as it was verified
(everything but its provenance), who verified it, when, and the commit and machine of the
re-run. An entry is verified when the ledger lists it with its current content hash; an entry
edited after verification no longer matches and fails validation. Nothing an entry says about
itself can make it verified: the ledger changes only through ``miabench leaderboard verify``,
committed by a maintainer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from miabench.atomic import write_json
from miabench.errors import UserError
from miabench.record import Entry, Schema, json_safe

LEDGER = Path(__file__).resolve().parent / "verified.json"


class Machine(Schema):
    cpu: str | None
    threads: int | None
    platform: str
    gpu: str | None
    fingerprint: str | None  # the record's environment fingerprint


class Verification(Schema):
    entry: str  # <track>/<task>/<entry id>
    sha256: str  # content_sha256 of the entry as verified
    scores_sha256: str  # the per-example scores the re-run reproduced (published beside the board)
    verified_by: str
    verified: str  # UTC ISO timestamp
    commit: str | None  # the miabench commit the re-run ran on
    machine: Machine
    largest_difference: dict[str, float]  # per metric kind, the largest |entry - re-run| seen


_LINES = TypeAdapter(list[Verification])


def content_sha256(entry: Entry) -> str:
    """The hash of everything an entry shows: the record and its ROC, not its provenance."""
    content = json_safe(entry.model_dump(exclude={"provenance"}))
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def load(path: Path | None = None) -> dict[str, Verification]:
    """The ledger's verifications by entry key (empty when there is no ledger file); by default the repository's."""
    path = Path(path or LEDGER)
    if not path.is_file():
        return {}
    try:
        lines = _LINES.validate_python(json.loads(path.read_text(encoding="utf-8")).get("verified"), strict=True)
    except (OSError, json.JSONDecodeError, AttributeError, ValidationError) as error:
        reason = str(error).splitlines()[0]
        raise UserError(f"{path}: not a readable verified ledger ({reason}); restore it from git") from None
    return {line.entry: line for line in lines}


def add(verification: Verification, path: Path | None = None) -> None:
    """Record a verification (replacing an earlier one of the same entry), the lines sorted by entry."""
    lines = load(path) | {verification.entry: verification}
    write_json(Path(path or LEDGER), {"verified": [json_safe(lines[key].model_dump()) for key in sorted(lines)]})


def status(key: str, entry: Entry, ledger: dict[str, Verification]) -> str:
    """``verified`` when the ledger lists this exact content under ``key``; else ``pending``."""
    line = ledger.get(key)
    return "verified" if line is not None and line.sha256 == content_sha256(entry) else "pending"


def problems(key: str, entry: Entry, ledger: dict[str, Verification]) -> list[str]:
    """A verified entry must still be what was verified."""
    line = ledger.get(key)
    if line is None or line.sha256 == content_sha256(entry):
        return []
    edited = f"the entry was edited after {line.verified_by} verified it on {line.verified[:10]}"
    fix = "restore it from git, or submit and verify it again"
    return [f"{edited} (its content hash is not the ledger's {line.sha256[:12]}…): {fix}"]
