"""Verification: re-run an entry's configuration with the harness and compare the metrics.

On the CPU track training is float32 and bit-reproducible, so a re-run must give the
same numbers (tolerance 1e-6). On the GPU track bf16 kernels may round differently
between GPUs and driver versions, so AUC may differ by 0.01 and each TPR at a fixed
FPR by 0.01 (one percentage point). An entry whose re-run matches becomes ``verified``.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from miabench import record as records
from miabench import runner
from miabench.errors import UserError
from miabench.leaderboard import entries
from miabench.spec import RunSpec

TOLERANCE = {"cpu": 1e-6, "gpu": 0.01}


def rerun(record: records.Record, data_dir: Path | None = None, cache_dir: Path | None = None) -> records.Record:
    """The record of the same configuration, trained and attacked afresh (or from the local cache)."""
    (fresh,) = runner.run(RunSpec.from_record(record, data_dir=data_dir, cache_dir=cache_dir, progress=False))
    return fresh


def differences(stated, fresh, tolerance: float) -> list[str]:
    """The headline metrics (Metrics objects) that differ by more than ``tolerance``, one line each."""
    pairs = [("AUC", stated.auc.mean, fresh.auc.mean)]
    pairs += [(f"TPR at {level} FPR", stated.tpr_at_fpr[level].mean, fresh.tpr_at_fpr[level].mean)
              for level in stated.tpr_at_fpr]  # fmt: skip
    return [f"{name}: entry {a:.6f}, re-run {b:.6f}" for name, a, b in pairs if abs(a - b) > tolerance]


def verify(path: Path, verified_by: str, data_dir: Path | None = None, cache_dir: Path | None = None):
    """Re-run the entry at ``path``; mark it verified when the metrics match, else raise a UserError."""
    entry = entries.read(path)
    fresh = rerun(entry.record, data_dir, cache_dir)
    problems = differences(entry.metrics, fresh.metrics, TOLERANCE[entry.track.name])
    if problems:
        raise UserError(
            f"{path} does not reproduce: " + "; ".join(problems) + " (it stays pending; check the entry's "
            f"commit {entry.miabench.commit} and data copy, or resubmit the run)"
        )
    entry.provenance = entry.provenance.model_copy(update={
        "status": "verified",
        "verified_by": verified_by,
        "verified": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "verified_commit": fresh.miabench.commit,
    })  # fmt: skip
    records.write(Path(path), entry)
    return entry
