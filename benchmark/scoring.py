"""Running an attack against every model in turn (leave-one-out) and what it may see.

Target k is attacked with the plan's references for k (every other model but k's
partner); the attack sees the target's outputs at its declared access level, the
references' outputs and their memberships, and which examples are auxiliary (known
non-members), never the target's membership. An attack whose threat model asks for it also sees
the outputs of k's partner (``partner``) or of one fixed model for every target (``fixed_model``),
never their memberships. An attack that judges a subset (:class:`Selection`) is refused when its
choice holds no member or no non-member of some target, and :func:`composition` says what it chose.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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
        # A block of rows at a time: whole-cube float64 temporaries cost more than the arithmetic.
        rows, block = logits.reshape(-1, logits.shape[-1]), 1 << 15
        out = np.empty(rows.shape)
        for start in range(0, len(rows), block):
            part = out[start : start + block]
            part[:] = rows[start : start + block]
            top = part.max(axis=-1, keepdims=True)
            top[~np.isfinite(top)] = 0  # as log_softmax does
            part -= top
            part -= np.log(np.exp(part).sum(axis=-1, keepdims=True))
        return out.reshape(logits.shape)
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
    if threat.fixed_model is not None and not 0 <= threat.fixed_model < num_models:
        raise UserError(
            f"attack '{attack.name}' uses model {threat.fixed_model} for every target but K = {num_models} numbers "
            f"the models 0 to {num_models - 1}; choose a model below {num_models} (e.g. selector=model:0) "
            f"or raise --models"
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
    threat = attack.threat_model()
    check(attack, plan.num_models, len(plan.references(0)), int(auxiliary.sum()))
    if threat.partner and not plan.paired:
        raise UserError(
            f"attack '{attack.name}' needs each target's pair partner (models 2j and 2j + 1 splitting the challenge "
            f"examples) and this plan is not paired; train the models by 'miabench plan'"
        )
    statistic = attack.statistic(observe(logits, threat.access), labels)
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
            partner=take(statistic, target ^ 1) if threat.partner else None,
            fixed=take(statistic, threat.fixed_model) if threat.fixed_model is not None else None,
        )  # fmt: skip
        out = attack.score(view)
        rows.append(checked(attack, out.scores if isinstance(out, Selection) else out, labels, target))
        if isinstance(out, Selection):
            chosen.append(np.asarray(out.chosen, dtype=bool))
            hint = out.hint
        queries += target_oracle.used if target_oracle is not None else 0
    if chosen:
        refuse_degenerate(attack, np.stack(chosen), plan.members, labels, hint)
    return Scored(np.stack(rows), np.stack(chosen) if chosen else None, queries)


def composition(chosen: np.ndarray, members: np.ndarray, labels: np.ndarray, names=None) -> list[dict]:
    """What an attack chose (``chosen`` [K, N]) for each target: members and non-members, in all and per class.

    Only challenge examples count (auxiliary ones are judged by no metric). ``names`` names the
    classes (``class:<name>``; default: their indices); a class the attack chose nothing of is left out.
    """
    judged = chosen & members.any(axis=0)
    names = list(names) if names is not None else [str(c) for c in range(int(labels.max()) + 1)]
    out = []
    for k in range(len(chosen)):
        inside, outside = judged[k] & members[k], judged[k] & ~members[k]
        by_class = {
            f"class:{name}": {"members": int(inside[labels == c].sum()), "non_members": int(outside[labels == c].sum())}
            for c, name in enumerate(names)
            if judged[k, labels == c].any()
        }
        out.append({"target": k, "members": int(inside.sum()), "non_members": int(outside.sum()), "by_class": by_class})
    return out


def refuse_degenerate(attack: Attack, chosen: np.ndarray, members: np.ndarray, labels: np.ndarray, hint: str) -> None:
    """Refuse a choice that holds no member or no non-member of some target; warn, in one line, when
    only some class's share of it does.

    There the TPR is undefined, and leaving such targets out would keep exactly those where the
    choice happened to hold both sides: the mean over the others would be biased. A class's
    degenerate share is only warned of (its subgroup metrics leave the target out, and the record's
    ``selection`` shows it), since the numbers over the whole choice stay sound.
    """
    rows = composition(chosen, members, labels)
    empty = [row for row in rows if not row["members"] or not row["non_members"]]
    if empty:
        row = empty[0]
        raise UserError(
            f"attack '{attack.name}': the {row['members'] + row['non_members']} candidates it chose for target "
            f"{row['target']} hold {row['members']} of its members and {row['non_members']} non-members "
            f"({len(empty)} of {len(rows)} targets lack one side), so the TPR is undefined there and leaving such "
            f"targets out would bias the mean; {hint}"
        )
    lopsided = [(row["target"], name, side) for row in rows for name, side in row["by_class"].items()
                if not side["members"] or not side["non_members"]]  # fmt: skip
    if lopsided:
        target, name, side = lopsided[0]
        warnings.warn(
            f"attack '{attack.name}': for {len(lopsided)} (target, class) pair(s) the chosen candidates of a class "
            f"hold no member or no non-member (e.g. target {target}, {name}: {side['members']} members, "
            f"{side['non_members']} non-members); those subgroup metrics leave the target out, and the record's "
            f"'selection' gives every target's composition",
            stacklevel=3,
        )
