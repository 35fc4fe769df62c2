"""What a record reports, computed from an attack's scores and the models' outputs: the metrics
across targets (overall, per subgroup, and on an attack's chosen subset), utility, defense facts."""

from __future__ import annotations

import numpy as np

from miabench import metrics
from miabench.errors import UserError
from miabench.plan import MembershipPlan


def ci_unit(members: np.ndarray) -> str:
    """What the CIs resample: the pairs of a paired plan (they share their references), else targets."""
    return "pairs" if MembershipPlan(members).paired else "targets"


def measure(
    scores: np.ndarray, members: np.ndarray, seed: int, within: np.ndarray | None = None, unit: str | None = None
):
    """Aggregated metrics across targets, and the per-target metrics, on the challenge examples.

    ``within`` ([N] or [K, N] bool) narrows the examples further (a subgroup, or the
    candidates an attack chose); each target's ROC uses the non-members inside it.
    ``unit`` is what the CIs resample (default: the plan's, see :func:`ci_unit`); a record
    states it, so that its metrics can be recomputed as it made them.
    """
    keep = np.broadcast_to(members.any(axis=0), members.shape)  # auxiliary examples are known non-members
    if within is not None:
        keep = keep & within
    # A narrowed set may hold no member (or no non-member) for some target: its ROC is undefined there.
    defined = [k for k in range(len(scores)) if members[k, keep[k]].any() and (~members[k, keep[k]]).any()]
    if not defined:
        raise UserError("no target has both members and non-members among the examples judged; widen the selection")
    per_target = [{"target": k, **metrics.target_metrics(scores[k, keep[k]], members[k, keep[k]])} for k in defined]
    aggregated = metrics.aggregate(per_target, seed=seed, unit=unit or ci_unit(members))
    aggregated["targets"] = len(defined)
    aggregated["examples"] = float(keep[defined].sum(axis=1).mean())  # judged per target, on average
    return aggregated, per_target


def attack_metrics(
    scores: np.ndarray,
    chosen: np.ndarray | None,
    members: np.ndarray,
    subgroups: dict,
    seed: int,
    unit: str | None = None,
):
    """The record's metric fields for one attack.

    An attack that judged a subset (``chosen``) is measured on it, and the same
    scores on all candidates are reported beside as ``base_metrics`` with the
    ``amplification`` of TPR at each FPR. ``unit``: see :func:`measure`.
    """
    unit = unit or ci_unit(members)
    out = {}
    out["metrics"], out["per_target"] = measure(scores, members, seed, chosen, unit)
    by_subgroup = {}
    for name, mask in subgroups.items():
        keep = mask if chosen is None else chosen & mask
        try:
            by_subgroup[name] = measure(scores, members, seed, keep, unit)[0]
        except UserError:  # e.g. a class too small to hold both sides for any target
            by_subgroup[name] = None
    out["metrics_by_subgroup"] = by_subgroup
    if chosen is not None:
        base = measure(scores, members, seed, unit=unit)[0]
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
    """From served test outputs ``[K, M, C]``: see :func:`utility_of_predictions`."""
    if test_logits is None:
        return None
    return utility_of_predictions(test_logits.argmax(-1), test_labels, test_logits.shape[-1], class_names, flagged)


def utility_of_predictions(predictions: np.ndarray, test_labels, classes: int, class_names=(), flagged=None) -> dict:
    """From the predicted classes ``[K, M]``: test accuracy, balanced accuracy, each class's recall
    (``flagged``: the class a safety classifier flags) and the worst class's (each model's lowest recall over
    the classes in the test set: what a mean hides of a cost that falls on a small class), as mean and std
    over the K models."""

    def spread(values: np.ndarray) -> dict | None:
        if np.isnan(values).any():
            return None  # a class absent from the test set has no recall
        return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}

    correct = predictions == test_labels  # [K, M]
    per_class = np.eye(classes)[test_labels]  # [M, C]
    with np.errstate(invalid="ignore"):
        recall = (correct @ per_class) / per_class.sum(0)  # [K, C]; NaN where a class is absent
    names = class_names or [str(c) for c in range(classes)]
    out = {
        "test_accuracy": spread(correct.mean(1)),
        "balanced_accuracy": spread(np.nanmean(recall, axis=1)),
        "recall": {f"class:{name}": spread(recall[:, c]) for c, name in enumerate(names)},
        "worst_class_recall": spread(np.nanmin(recall, axis=1)),
    }
    if flagged is not None:
        out["recall"]["flagged"] = spread(recall[:, flagged])
    return out


ROC_GRID = np.round(np.logspace(-4, 0, 33), 8)  # FPRs from 0.01% to 1, for log-log plots


def target_rocs(scores: np.ndarray, members: np.ndarray, chosen: np.ndarray | None = None) -> np.ndarray:
    """``[targets, len(ROC_GRID)]``: each target's TPR on ROC_GRID, on the examples the metrics judge."""
    keep = np.broadcast_to(members.any(axis=0), members.shape)  # auxiliary examples are not judged
    if chosen is not None:
        keep = keep & chosen
    curves = [metrics.tpr_on_grid(scores[k, keep[k]], members[k, keep[k]], ROC_GRID) for k in range(len(scores))
              if members[k, keep[k]].any() and (~members[k, keep[k]]).any()]  # fmt: skip
    return np.array(curves).reshape(len(curves), len(ROC_GRID))


def mean_roc(scores: np.ndarray, members: np.ndarray, chosen: np.ndarray | None = None) -> dict:
    """The ROC averaged over the targets on ROC_GRID (for the web page)."""
    return {"fpr": ROC_GRID.tolist(), "tpr": np.round(target_rocs(scores, members, chosen).mean(axis=0), 6).tolist()}
