"""Submission: a run's validated records become pending leaderboard entries."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from miabench import metrics
from miabench.errors import UserError
from miabench.leaderboard import entries
from miabench.leaderboard.validate import validate


def scores_beside(entry_path: Path) -> Path:
    """Where an entry's per-example scores are kept locally (ignored by git; published with the entries)."""
    return entry_path.with_suffix(".scores.npz")


ROC_GRID = np.round(np.logspace(-4, 0, 33), 8)  # FPRs from 0.01% to 1, for log-log plots


def mean_roc(scores_path: Path) -> dict:
    """The ROC averaged over target models on ROC_GRID, from the per-example scores (for the web page)."""
    with np.load(scores_path) as arrays:
        scores, members = arrays["scores"], arrays["members"]
        keep = np.broadcast_to(members.any(axis=0), members.shape)  # auxiliary examples are not judged
        if "chosen" in arrays.files:
            keep = keep & arrays["chosen"]
    curves = [metrics.tpr_on_grid(scores[k, keep[k]], members[k, keep[k]], ROC_GRID) for k in range(len(scores))
              if members[k, keep[k]].any() and (~members[k, keep[k]]).any()]  # fmt: skip
    return {"fpr": ROC_GRID.tolist(), "tpr": np.round(np.mean(curves, axis=0), 6).tolist()}


def submit(run_dir: Path, submitted_by: str, root: Path = entries.ENTRIES_DIR, scores_url: str | None = None):
    """Validate every record of ``run_dir`` and write each as a pending entry; nothing is written if one fails."""
    accepted, problems = [], []
    for path, record in entries.run_records(run_dir):
        found = validate(record, path.parent / "scores.npz")
        problems += [f"{path}: {line}" for line in found]
        accepted.append((path, record))
    if problems:
        raise UserError("; ".join(problems))
    written = []
    for path, record in accepted:
        scores = path.parent / "scores.npz"
        roc = mean_roc(scores) if scores.is_file() else None
        entry = entries.make_entry(record, submitted_by, scores_url, roc)
        entry_path = entries.write(entry, root)
        if scores.is_file():
            shutil.copyfile(scores, scores_beside(entry_path))
        written.append(entry_path)
    return written
