"""Verification: re-run an entry's configuration with the harness and compare the metrics.

On the CPU track training is float32 and bit-reproducible, so a re-run must give the
same numbers (tolerance 1e-6). On the GPU track bf16 kernels may round differently
between GPUs and driver versions, so AUC may differ by 0.01 and each TPR at a fixed
FPR by 0.01 (one percentage point). An entry whose re-run matches becomes ``verified``.
"""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

from miabench import runner
from miabench.atomic import write_json
from miabench.errors import UserError
from miabench.leaderboard import entries

TOLERANCE = {"cpu": 1e-6, "gpu": 0.01}


def rerun(record: dict, data_dir: str | None = None, cache_dir: Path | None = None) -> dict:
    """The record of the same configuration, trained and attacked afresh (or from the local cache)."""
    task, attack, defense = record["task"], record["attack"], record["defense"]
    params = {f"{task['name']}.{key}": value for key, value in task["params"].items()}
    params |= {f"{defense['name']}.{key}": value for key, value in defense["params"].items()}
    params |= {f"{attack['name']}.{key}": value for key, value in attack["params"].items()}
    with tempfile.TemporaryDirectory() as scratch:
        (fresh,) = runner.run(
            task=task["name"], attacks=[attack["name"]], defense=defense["name"], models=record["models"],
            seed=record["seed"], params=params, profile=entries.track(record), data_dir=data_dir,
            cache_dir=cache_dir, out=Path(scratch) / "out", progress=False,
        )  # fmt: skip
    return fresh


def differences(stated: dict, fresh: dict, tolerance: float) -> list[str]:
    """The headline metrics that differ by more than ``tolerance``, one line each."""
    pairs = [("AUC", stated["auc"]["mean"], fresh["auc"]["mean"])]
    pairs += [(f"TPR at {level} FPR", stated["tpr_at_fpr"][level]["mean"], fresh["tpr_at_fpr"][level]["mean"])
              for level in stated["tpr_at_fpr"]]  # fmt: skip
    return [f"{name}: entry {a:.6f}, re-run {b:.6f}" for name, a, b in pairs if abs(a - b) > tolerance]


def verify(path: Path, verified_by: str, data_dir: str | None = None, cache_dir: Path | None = None) -> dict:
    """Re-run the entry at ``path``; mark it verified when the metrics match, else raise a UserError."""
    entry = entries.read(path)
    record = entries.record_of(entry)
    fresh = rerun(record, data_dir, cache_dir)
    problems = differences(record["metrics"], fresh["metrics"], TOLERANCE[entries.track(record)])
    if problems:
        raise UserError(
            f"{path} does not reproduce: " + "; ".join(problems) + " (it stays pending; check the entry's "
            f"commit {record['miabench']['commit']} and data copy, or resubmit the run)"
        )
    entry["provenance"] |= {
        "status": "verified",
        "verified_by": verified_by,
        "verified": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "verified_commit": fresh["miabench"]["commit"],
    }
    write_json(Path(path), entry)
    return entry
