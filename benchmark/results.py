"""Result records: one JSON file per (run, attack), next to its per-example scores.

The record carries everything needed to reproduce and to validate it: versions and
git hash, the names, versions and params of task, attack and defense, the config
and plan hashes, seeds, sizes, environment, timings, metrics with confidence
intervals, utility, and the checksum of the scores file (``scores`` [K, N] with the
plan's ``members`` [K, N]) from which the metrics can be recomputed.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import platform
import subprocess
from pathlib import Path

import numpy as np
import torch

import miabench
from miabench import metrics
from miabench.atomic import save_npz, sha256_file, write_json

SCHEMA_VERSION = 1


def git_revision() -> dict:
    """The commit of the source tree miabench runs from, when it is a git checkout."""
    here = Path(__file__).resolve().parent

    def git(*args):
        return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=10, check=True)

    try:
        commit, status = git("rev-parse", "HEAD"), git("status", "--porcelain")
    except (OSError, subprocess.SubprocessError):  # not a checkout, or no git
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def environment(device: str) -> dict:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": device,
    }


def json_safe(value):
    """Replace non-finite floats (e.g. an infinite threshold) with strings JSON can hold."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def component(instance) -> dict:
    return {"name": instance.name, "params": dataclasses.asdict(instance)}


def evaluate(scores: np.ndarray, members: np.ndarray, seed: int) -> tuple[dict, list[dict]]:
    """Aggregated metrics across targets, and the per-target metrics, on the challenge examples."""
    challenge = members.any(axis=0)  # auxiliary examples are known non-members: not scored
    per_target = [metrics.target_metrics(scores[k, challenge], members[k, challenge]) for k in range(len(scores))]
    return metrics.aggregate(per_target, seed=seed), per_target


def utility(test_accuracy: np.ndarray | None) -> dict | None:
    if test_accuracy is None:
        return None
    std = float(np.std(test_accuracy, ddof=1)) if len(test_accuracy) > 1 else 0.0
    return {"test_accuracy": {"mean": float(np.mean(test_accuracy)), "std": std}}


def write(out: Path, record: dict, scores: np.ndarray, members: np.ndarray) -> Path:
    """Write ``out/scores.npz`` and ``out/result.json`` (which carries the scores' checksum)."""
    out = Path(out)
    save_npz(out / "scores.npz", scores=scores.astype(np.float64), members=members.astype(bool))
    record = {**record, "scores_file": {"path": "scores.npz", "sha256": sha256_file(out / "scores.npz")}}
    write_json(out / "result.json", json_safe(record))
    return out / "result.json"


def header() -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "miabench": {"version": miabench.__version__, **git_revision()},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
