"""Submission: a run's validated records become pending leaderboard entries."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from miabench import measure
from miabench.errors import UserError
from miabench.leaderboard import entries
from miabench.leaderboard.validate import validate


def mean_roc(scores_path: Path) -> dict:
    """The mean ROC of a scores file (see :func:`miabench.measure.mean_roc`)."""
    with np.load(scores_path) as arrays:
        chosen = arrays["chosen"] if "chosen" in arrays.files else None
        return measure.mean_roc(arrays["scores"], arrays["members"], chosen)


def submit(run_dir: Path, submitted_by: str, root: Path = entries.ENTRIES_DIR, scores_url: str | None = None):
    """Validate every record of ``run_dir`` and file each as a pending entry; nothing is written if one fails.

    An entry of the same configuration already on the board is replaced when pending and kept
    when verified (see :func:`entries.resubmitted`); either way its submissions stay in the history.
    """
    filed, problems = [], []
    for path, record in entries.run_records(run_dir):
        scores = path.parent / "scores.npz"
        roc = mean_roc(scores) if scores.is_file() else None
        entry = entries.make_entry(record, submitted_by, scores_url, roc)
        found = validate(entry, scores, filed=False)
        problems += [f"{path}: {line}" for line in found]
        if not found:
            filed.append((scores, entries.resubmitted(entry, root)))
    if problems:
        raise UserError("; ".join(problems) + " (nothing was written)")
    written = []
    for scores, entry in filed:
        entry_path = entries.write(entry, root)
        if scores.is_file():
            shutil.copyfile(scores, entries.scores_beside(entry_path))
        written.append(entry_path)
    return written
