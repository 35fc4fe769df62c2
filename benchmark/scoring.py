"""Running an attack against every model in turn (leave-one-out) and what it may see.

Target k is attacked with the plan's references for k (every other model but k's
partner); the attack sees the target's outputs at its declared access level, the
references' outputs and their memberships, and which examples are auxiliary (known
non-members), never the target's membership.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from miabench.api import Attack, AttackView
from miabench.errors import UserError
from miabench.plan import MembershipPlan

ACCESS_LEVELS = ("label", "scores", "logits")


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


def check(attack: Attack, num_models: int, references: int) -> None:
    """Refuse a setting that cannot meet the attack's needs, before anything is trained."""
    threat = attack.threat_model()
    if references < threat.min_references:
        raise UserError(
            f"attack '{attack.name}' needs at least {threat.min_references} reference models but K = {num_models} "
            f"gives {references}; raise --models"
        )


def leave_one_out(attack: Attack, logits: np.ndarray, labels: np.ndarray, plan: MembershipPlan) -> np.ndarray:
    """Scores ``[K, N]``: row k is the attack on model k, with the plan's references for k."""
    check(attack, plan.num_models, len(plan.references(0)))
    seen = observe(logits, attack.threat_model().access)
    auxiliary = ~plan.challenge
    rows = []
    for target in range(len(logits)):
        others = plan.references(target)
        view = AttackView(seen[target], labels, seen[others], plan.members[others], auxiliary)
        scores = np.asarray(attack.score(view), dtype=np.float64)
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
        rows.append(scores)
    return np.stack(rows)
