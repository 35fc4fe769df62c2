"""The metrics of the benchmark: ROC, AUC, TPR at fixed FPR, and their aggregation over targets.

Convention: an attack gives one score per example, a higher score means "member", and the
attacker predicts member when ``score >= threshold``. Every ROC point is such a threshold
rule, so every reported number can be reproduced by thresholding the scores.
"""

from __future__ import annotations

import numpy as np

from miabench.errors import UserError

FPR_LEVELS = (0.001, 0.01, 0.05, 0.1)


def _check(scores, is_member) -> tuple[np.ndarray, np.ndarray]:
    """Validate the inputs and return them as float64 scores and a boolean mask."""
    scores = np.asarray(scores)
    is_member = np.asarray(is_member)
    if scores.ndim != 1 or is_member.ndim != 1:
        raise UserError(
            f"scores and is_member must be 1-D, got shapes {scores.shape} and {is_member.shape}; "
            "pass one score and one label per example"
        )
    if scores.shape != is_member.shape:
        raise UserError(
            f"scores has {scores.size} entries but is_member has {is_member.size}; "
            "pass one score and one label per example"
        )
    if is_member.dtype != bool:
        raise UserError(f"is_member must be a boolean array, got dtype {is_member.dtype}; pass labels.astype(bool)")
    if not (np.issubdtype(scores.dtype, np.integer) or np.issubdtype(scores.dtype, np.floating)):
        raise UserError(f"scores must be real numbers, got dtype {scores.dtype}; pass a float array")
    scores = scores.astype(np.float64)
    if not np.all(np.isfinite(scores)):
        bad = int(np.sum(~np.isfinite(scores)))
        raise UserError(f"{bad} score(s) are NaN or infinite; make the attack return finite scores")
    n_members = int(is_member.sum())
    if n_members == 0 or n_members == is_member.size:
        raise UserError(
            f"need at least one member and one non-member, got {n_members} members of {is_member.size}; "
            "score both members and non-members"
        )
    return scores, is_member


def _roc(scores: np.ndarray, is_member: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of validated inputs (see ``roc_curve``)."""
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    m = is_member[order]
    # The last index of each run of equal scores: a threshold can only sit between distinct
    # values, so tied examples are always predicted together.
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True))
    true_pos = np.cumsum(m)[last]
    false_pos = (last + 1) - true_pos
    n_members = true_pos[-1]
    n_nonmembers = false_pos[-1]
    fpr = np.concatenate([[0.0], false_pos / n_nonmembers])
    tpr = np.concatenate([[0.0], true_pos / n_members])
    thresholds = np.concatenate([[np.inf], s[last]])
    return fpr, tpr, thresholds


def roc_curve(scores, is_member) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve: one point per distinct score plus the start (threshold +inf, FPR 0, TPR 0).

    Thresholds are in decreasing order; point ``i`` is the rule ``score >= thresholds[i]``.
    """
    return _roc(*_check(scores, is_member))


def _auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    # Trapezoids: a tied block is a diagonal segment, which counts each tied pair as 1/2.
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def auc(scores, is_member) -> float:
    """Area under the ROC curve; equals P(member score > non-member score) + P(tie) / 2."""
    return _auc(*_roc(*_check(scores, is_member))[:2])


def _tpr_at(fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray, alpha: float, n_nonmembers: int) -> dict:
    if not 0.0 <= alpha <= 1.0:
        raise UserError(f"alpha must be in [0, 1], got {alpha}; pass a false positive rate such as 0.01")
    # FPR and TPR never decrease along the curve, so the best admissible point is the last one
    # with FPR <= alpha; the first point with the same TPR has the smallest FPR. No interpolation:
    # every reported point is reachable by a single threshold.
    best = np.flatnonzero(fpr <= alpha)[-1]  # the start point (FPR 0) always qualifies
    first = np.flatnonzero(tpr == tpr[best])[0]
    return {
        "tpr": float(tpr[first]),
        "realised_fpr": float(fpr[first]),
        "threshold": float(thresholds[first]),
        "n_nonmembers": int(n_nonmembers),
    }


def tpr_at_fpr(scores, is_member, alpha: float) -> dict:
    """The largest TPR of a ROC point with FPR <= alpha.

    Returns ``tpr``, ``realised_fpr`` (the point's FPR, at most alpha), ``threshold`` (the point's
    threshold; ``inf`` when only the start point qualifies) and ``n_nonmembers``, which says how
    coarse the FPR grid is (steps of 1 / n_nonmembers).
    """
    scores, is_member = _check(scores, is_member)
    fpr, tpr, thresholds = _roc(scores, is_member)
    return _tpr_at(fpr, tpr, thresholds, alpha, int((~is_member).sum()))


def tpr_on_grid(scores, is_member, grid) -> np.ndarray:
    """The ROC as a step function: for each FPR in ``grid``, the largest TPR at an FPR no larger."""
    fpr, tpr, _ = _roc(*_check(scores, is_member))
    return tpr[np.searchsorted(fpr, np.asarray(grid), side="right") - 1]


def balanced_accuracy(scores, is_member) -> float:
    """The best balanced accuracy, (TPR + 1 - FPR) / 2, over the thresholds of the ROC."""
    fpr, tpr, _ = _roc(*_check(scores, is_member))
    return float(np.max((tpr + 1 - fpr) / 2))


def advantage(scores, is_member) -> float:
    """The best membership advantage, TPR - FPR, over the thresholds of the ROC."""
    fpr, tpr, _ = _roc(*_check(scores, is_member))
    return float(np.max(tpr - fpr))


def target_metrics(scores, is_member) -> dict:
    """All metrics of one target model; ``tpr_at_fpr`` is keyed by ``f"{alpha:g}"`` for FPR_LEVELS."""
    scores, is_member = _check(scores, is_member)
    fpr, tpr, thresholds = _roc(scores, is_member)
    n_nonmembers = int((~is_member).sum())
    return {
        "auc": _auc(fpr, tpr),
        "balanced_accuracy": float(np.max((tpr + 1 - fpr) / 2)),
        "advantage": float(np.max(tpr - fpr)),
        "tpr_at_fpr": {f"{a:g}": _tpr_at(fpr, tpr, thresholds, a, n_nonmembers) for a in FPR_LEVELS},
    }


CI_UNITS = ("targets", "pairs")


def _units(per_target: list[dict], unit: str) -> np.ndarray:
    """Each target's bootstrap unit, numbered from 0: the target itself, or its pair.

    Models 2j and 2j + 1 of a paired plan share their K - 2 references, so their metrics are
    correlated and the pair is the independent unit. A pair with one target left in (the other
    undefined) is a unit of one.
    """
    if unit not in CI_UNITS:
        raise UserError(f"unknown CI unit {unit!r}; use one of {', '.join(CI_UNITS)}")
    if unit == "targets":
        return np.arange(len(per_target))
    return np.unique([t["target"] // 2 for t in per_target], return_inverse=True)[1]


def _summary(values: np.ndarray, units: np.ndarray, draws: np.ndarray) -> dict:
    """Mean, std (ddof=1) and percentile-bootstrap 95% CI of the mean over targets.

    Each resample draws units with replacement and averages every target of the drawn units.
    """
    std = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    sums, sizes = np.bincount(units, weights=values), np.bincount(units)
    lo, hi = np.percentile(sums[draws].sum(axis=1) / sizes[draws].sum(axis=1), [2.5, 97.5])
    return {"mean": float(np.mean(values)), "std": std, "ci95": [float(lo), float(hi)]}


def aggregate(per_target: list[dict], seed: int = 0, n_bootstrap: int = 1000, unit: str = "targets") -> dict:
    """Combine the ``target_metrics`` of several target models into the public record.

    Each metric gets ``mean``, ``std`` and ``ci95`` over targets. The CI is a percentile bootstrap
    that draws ``unit``s with replacement: ``"targets"``, or the ``"pairs"`` of models (2j, 2j + 1)
    of a paired plan, for which each entry names its ``target``. ``numpy.random.default_rng(seed)``
    makes the draws, the same for every metric, so the CI is deterministic for a seed; the record
    says ``ci_unit: "pairs"`` when pairs were drawn. Each ``tpr_at_fpr`` level also gets
    ``realised_fpr`` (the mean over targets) and ``n_nonmembers`` (the minimum over targets: the
    coarsest FPR grid).
    """
    if len(per_target) == 0:
        raise UserError("aggregate needs at least one target's metrics; evaluate at least one target model")
    if n_bootstrap < 1:
        raise UserError(f"n_bootstrap must be at least 1, got {n_bootstrap}; pass e.g. n_bootstrap=1000")
    units = _units(per_target, unit)
    n = int(units.max()) + 1
    draws = np.random.default_rng(seed).integers(0, n, size=(n_bootstrap, n))

    def summary(values) -> dict:
        return _summary(np.array(values, dtype=np.float64), units, draws)

    record = {key: summary([t[key] for t in per_target]) for key in ("auc", "balanced_accuracy", "advantage")}
    record["tpr_at_fpr"] = {}
    for level in per_target[0]["tpr_at_fpr"]:
        rows = [t["tpr_at_fpr"][level] for t in per_target]
        entry = summary([r["tpr"] for r in rows])
        entry["realised_fpr"] = float(np.mean([r["realised_fpr"] for r in rows]))
        entry["n_nonmembers"] = int(min(r["n_nonmembers"] for r in rows))
        record["tpr_at_fpr"][level] = entry
    if unit != "targets":  # stated only for pairs (see Metrics.ci_unit)
        record["ci_unit"] = unit
    return record
