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
import hashlib
import json
import math
import platform
import subprocess
from pathlib import Path

import numpy as np
import torch

import miabench
from miabench import metrics
from miabench.atomic import save_npz, sha256_file, write_json
from miabench.errors import UserError

SCHEMA_VERSION = 1


def git_revision() -> dict:
    """The commit of the source tree miabench runs from, when it is a git checkout."""
    here = Path(__file__).resolve().parent

    def git(*args):
        return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=10, check=True)

    try:
        # Result records written under results/ are outputs, not code: they do not make a run dirty.
        commit, status = git("rev-parse", "HEAD"), git("status", "--porcelain", "--", ":/", ":(top,exclude)results")
    except (OSError, subprocess.SubprocessError):  # not a checkout, or no git
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def environment(hardware: dict) -> dict:
    """Software versions and ``hardware`` (device.hardware), with a short hash of both: the environment fingerprint."""
    facts = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        **hardware,
    }
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()
    return facts | {"fingerprint": digest[:16]}


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


def evaluate(scores: np.ndarray, members: np.ndarray, seed: int, within: np.ndarray | None = None):
    """Aggregated metrics across targets, and the per-target metrics, on the challenge examples.

    ``within`` ([N] or [K, N] bool) narrows the examples further (a subgroup, or the
    candidates an attack chose); each target's ROC uses the non-members inside it.
    """
    keep = np.broadcast_to(members.any(axis=0), members.shape)  # auxiliary examples are known non-members
    if within is not None:
        keep = keep & within
    # A narrowed set may hold no member (or no non-member) for some target: its ROC is undefined there.
    defined = [k for k in range(len(scores)) if members[k, keep[k]].any() and (~members[k, keep[k]]).any()]
    if not defined:
        raise UserError("no target has both members and non-members among the examples judged; widen the selection")
    per_target = [{"target": k, **metrics.target_metrics(scores[k, keep[k]], members[k, keep[k]])} for k in defined]
    aggregated = metrics.aggregate(per_target, seed=seed)
    aggregated["targets"] = len(defined)
    aggregated["examples"] = float(keep[defined].sum(axis=1).mean())  # judged per target, on average
    return aggregated, per_target


def attack_metrics(scores: np.ndarray, chosen: np.ndarray | None, members: np.ndarray, subgroups: dict, seed: int):
    """The record's metric fields for one attack.

    An attack that judged a subset (``chosen``) is measured on it, and the same
    scores on all candidates are reported beside as ``base_metrics`` with the
    ``amplification`` of TPR at each FPR.
    """
    out = {}
    out["metrics"], out["per_target"] = evaluate(scores, members, seed, chosen)
    by_subgroup = {}
    for name, mask in subgroups.items():
        keep = mask if chosen is None else chosen & mask
        try:
            by_subgroup[name] = evaluate(scores, members, seed, keep)[0]
        except UserError:  # e.g. a class too small to hold both sides for any target
            by_subgroup[name] = None
    out["metrics_by_subgroup"] = by_subgroup
    if chosen is not None:
        base = evaluate(scores, members, seed)[0]
        out["base_metrics"] = base
        out["amplification"] = {
            alpha: ratio(out["metrics"]["tpr_at_fpr"][alpha]["mean"], base["tpr_at_fpr"][alpha]["mean"])
            for alpha in base["tpr_at_fpr"]
        }
    return out


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def facts(per_model: dict[str, list[float]]) -> dict:
    """A defense's facts per model (e.g. the accountant's epsilon) as mean, std and the values."""
    return {
        name: {"mean": float(np.mean(values)), "std": float(np.std(values)), "per_model": list(values)}
        for name, values in per_model.items()
    }


def utility(test_logits: np.ndarray | None, test_labels, class_names=(), flagged: int | None = None) -> dict | None:
    """From served test outputs ``[K, M, C]``: test accuracy, balanced accuracy and each class's recall
    (``flagged``: the class a safety classifier flags), as mean and std over the K models."""

    def spread(values: np.ndarray) -> dict | None:
        if np.isnan(values).any():
            return None  # a class absent from the test set has no recall
        return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}

    if test_logits is None:
        return None
    correct = test_logits.argmax(-1) == test_labels  # [K, M]
    classes = test_logits.shape[-1]
    per_class = np.eye(classes)[test_labels]  # [M, C]
    with np.errstate(invalid="ignore"):
        recall = (correct @ per_class) / per_class.sum(0)  # [K, C]; NaN where a class is absent
    names = class_names or [str(c) for c in range(classes)]
    out = {
        "test_accuracy": spread(correct.mean(1)),
        "balanced_accuracy": spread(np.nanmean(recall, axis=1)),
        "recall": {f"class:{name}": spread(recall[:, c]) for c, name in enumerate(names)},
    }
    if flagged is not None:
        out["recall"]["flagged"] = spread(recall[:, flagged])
    return out


def write(out: Path, record: dict, scored, members: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> Path:
    """Write ``out/scores.npz`` and ``out/result.json`` (which carries the scores' checksum).

    The scores file holds each example's score per target (``scores`` [K, N]) with
    ``members`` [K, N], ``labels`` and stable ``ids`` [N], and ``chosen`` [K, N] when the
    attack judged a subset: enough to recompute every metric and rank examples.
    """
    out = Path(out)
    arrays = {"scores": scored.scores.astype(np.float64), "members": members.astype(bool), "labels": labels, "ids": ids}
    if scored.chosen is not None:
        arrays["chosen"] = scored.chosen
    save_npz(out / "scores.npz", **arrays)
    record = {**record, "scores_file": {"path": "scores.npz", "sha256": sha256_file(out / "scores.npz")}}
    write_json(out / "result.json", json_safe(record))
    return out / "result.json"


def header() -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "miabench": {"version": miabench.__version__, **git_revision()},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
