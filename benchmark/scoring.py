"""Running an attack against every model in turn (leave-one-out) and what it may see.

Target k is attacked with the plan's references for k (every other model but k's
partner); the attack sees the target's outputs at its declared access level, the
references' outputs and their memberships, and which examples are auxiliary (known
non-members), never the target's membership.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import log_softmax

from miabench.api import ACCESS_LEVELS, Attack, AttackView, Selection
from miabench.errors import UserError
from miabench.plan import MembershipPlan


@dataclass
class Scored:
    scores: np.ndarray  # [K, N]
    chosen: np.ndarray | None  # [K, N] bool, when the attack judged a subset of the candidates
    queries: int  # queries to the targets beyond the signals cube, over all targets


def observe(logits: np.ndarray, access: str) -> np.ndarray:
    """What an attacker with ``access`` learns from ``logits [..., C]``.

    ``scores`` gives log-probabilities (the same information as probabilities,
    without underflow); ``label`` gives the one-hot predicted class.
    """
    if access == "logits":
        return logits
    if access == "scores":
        return log_softmax(logits.astype(np.float64), axis=-1)
    if access == "label":
        return np.eye(logits.shape[-1])[logits.argmax(-1)]
    raise ValueError(f"unknown access level '{access}'; use one of {ACCESS_LEVELS}")


def check(attack: Attack, num_models: int, references: int, auxiliary: int | None = None) -> None:
    """Refuse a setting that cannot meet the attack's needs, before anything is trained."""
    threat = attack.threat_model()
    if references < threat.min_references:
        raise UserError(
            f"attack '{attack.name}' needs at least {threat.min_references} reference model(s) but K = {num_models} "
            f"gives {references}; raise --models"
        )
    if threat.auxiliary and auxiliary == 0:
        raise UserError(
            f"attack '{attack.name}' needs auxiliary examples (known non-members) but there are none; "
            f"set the task parameter auxiliary_fraction > 0, or give a signals file some all-false members columns"
        )


def take(statistic, index):
    """Slice an attack's statistic (an array or a dict of arrays) along its model axis."""
    if isinstance(statistic, dict):
        return {key: take(value, index) for key, value in statistic.items()}
    return statistic[index]


def checked(attack: Attack, scores, labels: np.ndarray, target: int) -> np.ndarray:
    """One target's scores as float64, refused unless one finite number per example."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != labels.shape:
        raise UserError(
            f"attack '{attack.name}' returned scores of shape {scores.shape}, expected {labels.shape}; "
            f"its score() must return one score per example"
        )
    if not np.isfinite(scores).all():
        raise UserError(
            f"attack '{attack.name}' returned {int((~np.isfinite(scores)).sum())} NaN or infinite scores "
            f"for target {target}; its score() must return finite numbers"
        )
    return scores


def leave_one_out(
    attack: Attack,
    logits: np.ndarray,
    labels: np.ndarray,
    plan: MembershipPlan,
    inputs=None,
    oracle: Callable | None = None,
    per_target: bool = False,
) -> Scored:
    """Row k of the scores is the attack on model k, with the plan's references for k.

    ``oracle(k)``, when given, opens counted queries to model k for attacks that need them.
    An attack that makes no queries and scores every target at once (``Attack.score_all``)
    is scored so, unless ``per_target`` asks for ``score`` on each target's view (the two agree).
    """
    auxiliary = ~plan.challenge
    check(attack, plan.num_models, len(plan.references(0)), int(auxiliary.sum()))
    statistic = attack.statistic(observe(logits, attack.threat_model().access), labels)
    every = None if per_target or attack.threat_model().queries else attack.score_all(statistic, labels, plan)
    if every is not None:
        if len(every) != plan.num_models:
            raise UserError(
                f"attack '{attack.name}' returned scores for {len(every)} targets, expected {plan.num_models}; "
                f"its score_all() must return one row per model"
            )
        return Scored(np.stack([checked(attack, row, labels, k) for k, row in enumerate(every)]), None, 0)
    rows, chosen, queries = [], [], 0
    for target in range(plan.num_models):
        others = plan.references(target)
        target_oracle = oracle(target) if oracle is not None else None
        view = AttackView(
            take(statistic, target), labels, take(statistic, others), plan.members[others], auxiliary, inputs,
            target_oracle,
        )  # fmt: skip
        out = attack.score(view)
        rows.append(checked(attack, out.scores if isinstance(out, Selection) else out, labels, target))
        if isinstance(out, Selection):
            chosen.append(np.asarray(out.chosen, dtype=bool))
        queries += target_oracle.used if target_oracle is not None else 0
    return Scored(np.stack(rows), np.stack(chosen) if chosen else None, queries)
