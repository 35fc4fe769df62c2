"""The empirical privacy audit: the epsilon lower bound that an attack's TPR and FPR imply.

An (epsilon, delta)-differentially private training algorithm bounds every membership test
(the hypothesis-testing view of DP): TPR <= e^epsilon * FPR + delta, and symmetrically
TNR <= e^epsilon * FNR + delta. An attack that reaches a TPR and an FPR therefore shows

    epsilon >= log((TPR - delta) / FPR)   and   epsilon >= log((1 - FPR - delta) / (1 - TPR)).

To make the bound conservative the rates are replaced by one-sided Clopper–Pearson bounds:
the numerator's rate by its lower bound and the denominator's by its upper bound (TPR's lower
and FPR's upper; in the symmetric form TNR's lower, 1 - FPR's upper, and FNR's upper, 1 - TPR's
lower). The operating points are fixed in advance, so that taking the largest bound is covered
by a union bound:

- the operating points are the thresholds at FPR <= each level of :data:`LEVELS` (the first form)
  and at FNR <= each level (the symmetric form): ``2 * len(LEVELS)`` = 6 bounds;
- each threshold is chosen on one half of the examples (the selection half, even positions) and
  the rates are counted on the other (odd positions), so no count is of the examples its
  threshold was fitted to;
- each of the 6 bounds holds with probability at least ``1 - (1 - CONFIDENCE) / 6`` (its two
  intervals split that), so all of them, and their maximum, hold with at least CONFIDENCE.

The counts are pooled over the targets: every target gets its own thresholds (scores of different
targets need not share a scale), and its members and non-members of the evaluation half are added up.
DP bounds each model's test, so the pooled rates, averages of the models' rates, obey the same
inequality, and pooling gives K times the trials of one target: a tighter interval at one family
of 6 comparisons, where a bound per target would need a union bound over the K targets as well.
The trials are treated as independent Bernoulli draws, the usual assumption of audits that
count many examples of one training run (docs/defenses.md says what this assumes).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import beta

CONFIDENCE = 0.95  # of the bound: all operating points' intervals hold together with this probability
LEVELS = (0.001, 0.01, 0.05)  # the FPR (and, for the symmetric form, FNR) levels the thresholds are chosen at


def lower(successes: int, trials: int, alpha: float) -> float:
    """The one-sided Clopper–Pearson lower bound of a rate, at confidence ``1 - alpha``."""
    return 0.0 if successes == 0 else float(beta.ppf(alpha, successes, trials - successes + 1))


def upper(successes: int, trials: int, alpha: float) -> float:
    """The one-sided Clopper–Pearson upper bound of a rate, at confidence ``1 - alpha``."""
    return 1.0 if successes == trials else float(beta.ppf(1 - alpha, successes + 1, trials - successes))


def threshold(scores: np.ndarray, members: np.ndarray, level: float) -> float:
    """The threshold t (call ``score > t`` a member) with the highest TPR at FPR <= ``level`` on these examples,
    and of those the highest: just below the lowest member score it calls a member, so the FPR is least."""
    negatives = np.sort(scores[~members])[::-1]
    allowed = math.floor(level * len(negatives))  # non-members that may lie above t
    t = float(negatives[min(allowed, len(negatives) - 1)])
    caught = scores[members][scores[members] > t]
    return float(np.nextafter(caught.min(), -np.inf)) if len(caught) else t


def counts(scores: np.ndarray, members: np.ndarray, keep: np.ndarray, level: float) -> tuple[int, int, int, int]:
    """(true positives, members, false positives, non-members) over the targets on the evaluation half, each
    target's threshold chosen at FPR <= ``level`` on its selection half."""
    positions = np.arange(scores.shape[1])
    select, evaluate = positions % 2 == 0, positions % 2 == 1
    tp = p = fp = n = 0
    for k in range(len(scores)):
        chosen, judged = keep[k] & select, keep[k] & evaluate
        if not (members[k, chosen].any() and (~members[k, chosen]).any()):
            continue  # no threshold can be chosen for this target
        t = threshold(scores[k, chosen], members[k, chosen], level)
        above, inside = scores[k, judged] > t, members[k, judged]
        tp, p = tp + int((above & inside).sum()), p + int(inside.sum())
        fp, n = fp + int((above & ~inside).sum()), n + int((~inside).sum())
    return tp, p, fp, n


def bound(tp: int, p: int, fp: int, n: int, delta: float, alpha: float) -> float:
    """log((TPR_lo - delta) / FPR_hi) with each one-sided interval at confidence ``1 - alpha / 2``; 0 where the
    counts show nothing (no trials, or TPR_lo <= delta)."""
    if p == 0 or n == 0:
        return 0.0
    tpr_lo, fpr_hi = lower(tp, p, alpha / 2), upper(fp, n, alpha / 2)
    return max(0.0, math.log((tpr_lo - delta) / fpr_hi)) if tpr_lo > delta else 0.0


def audit(scores: np.ndarray, members: np.ndarray, chosen: np.ndarray | None = None, delta: float = 0.0,
          confidence: float = CONFIDENCE, levels: tuple[float, ...] = LEVELS) -> dict:  # fmt: skip
    """The record's ``audit``: the epsilon lower bound of an attack's scores ``[K, N]`` (higher: member) on the
    examples the metrics judge (challenge examples, those an attack ``chosen``), at ``delta`` (the defense's,
    0 for a defense that claims none), holding with probability ``confidence``; and where it was reached."""
    scores, members = np.asarray(scores, dtype=np.float64), np.asarray(members, dtype=bool)
    keep = np.broadcast_to(members.any(axis=0), members.shape)  # auxiliary examples are not judged
    if chosen is not None:
        keep = keep & chosen
    points = [(side, level) for side in ("fpr", "fnr") for level in levels]
    alpha = (1 - confidence) / len(points)  # the union bound over the operating points
    found = []
    for side, level in points:
        if side == "fpr":
            found.append(bound(*counts(scores, members, keep, level), delta, alpha))
        else:  # TNR <= e^eps FNR + delta: the same test with the roles of members and non-members swapped
            found.append(bound(*counts(-scores, ~members, keep, level), delta, alpha))
    best = int(np.argmax(found))
    return {
        "epsilon_lower_bound": round(found[best], 6),
        "operating_point": f"{points[best][0]} <= {points[best][1]:g}" if found[best] > 0 else None,
        "delta": float(delta),
        "confidence": float(confidence),
        "levels": [float(level) for level in levels],
    }


def delta_of(defense: dict | None) -> float:
    """The delta a defense's facts state (the largest of its models'; DP-SGD's), else 0."""
    facts = (defense or {}).get("facts", {})
    return float(max(facts["delta"]["per_model"])) if "delta" in facts else 0.0
