"""RMIA against its written formula, computed one example at a time with plain Python: offline with a
fixed a, offline with a tuned on the references, and online, on paired and unpaired plans."""

import math

import numpy as np
import pytest

from miabench import scoring
from miabench.attacks.rmia import A_GRID, TUNING_EXAMPLES
from miabench.metrics import auc
from miabench.plan import MembershipPlan
from miabench.registry import attacks

MODELS, EXAMPLES, AUXILIARY, VIEWS, CLASSES = 8, 60, 12, 2, 3


def cube(plan: MembershipPlan, seed: int = 0):
    """Logits [K, N, A, C] where members are more confident, and labels [N]; noisy enough that the tuned a
    varies between targets."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, EXAMPLES)
    logits = rng.normal(0, 1, (1, EXAMPLES, 1, CLASSES)) + rng.normal(0, 1.5, (MODELS, EXAMPLES, VIEWS, CLASSES))
    logits += 2 * plan.members[:, :, None, None] * np.eye(CLASSES)[labels][None, :, None, :]
    return logits, labels


def p_true(logits, labels):
    """p_y[k][n]: the softmax probability of the true class, averaged over the views."""
    models, examples, views, _ = logits.shape
    out = [[0.0] * examples for _ in range(models)]
    for k in range(models):
        for n in range(examples):
            total = 0.0
            for a in range(views):
                row = logits[k, n, a].tolist()
                top = max(row)
                total += math.exp(row[labels[n]] - top) / sum(math.exp(v - top) for v in row)
            out[k][n] = total / views
    return out


def mean(values):
    return sum(values) / len(values)


def references_of(plan, target):
    """Every other model, but the target's pair partner on a paired plan."""
    return [k for k in range(plan.num_models) if k != target and not (plan.paired and k == target ^ 1)]


def rmia(p, members, target, refs, auxiliary, examples, gamma, online, a):
    """The fraction of population z with ratio_x / ratio_z > gamma, for each of ``examples``."""
    prior = {}
    for n in range(len(auxiliary)):
        ins = [p[r][n] for r in refs if members[r][n]]
        outs = [p[r][n] for r in refs if not members[r][n]]
        if online:
            prior[n] = (mean(ins) + mean(outs)) / 2 if ins and outs else mean(ins + outs)
        elif outs:
            prior[n] = ((1 + a) * mean(outs) + (1 - a)) / 2
    ratio = {n: p[target][n] / value for n, value in prior.items()}
    population = [ratio[z] for z in range(len(auxiliary)) if auxiliary[z]]
    return {x: sum(ratio[x] / ratio_z > gamma for ratio_z in population) / len(population) for x in examples}


def tuned_a(p, members, refs, auxiliary, gamma):
    """The a of A_GRID (the smallest of equals) whose offline attack on the first reference, with the others
    as its references, has the best AUC on the auxiliary examples and those with an OUT model among them."""
    pseudo, rest = refs[0], refs[1:]
    chosen = [n for n in range(len(auxiliary)) if auxiliary[n] or any(not members[r][n] for r in rest)]
    assert len(chosen) <= TUNING_EXAMPLES  # so that the attack tunes on all of them too
    is_member = np.array([members[pseudo][n] for n in chosen])
    if is_member.all() or not is_member.any():
        return 1.0
    best, best_auc = None, -1.0
    for a in A_GRID.tolist():
        scores = rmia(p, members, pseudo, rest, auxiliary, chosen, gamma, False, a)
        quality = auc(np.array([scores[n] for n in chosen]), is_member)  # the benchmark's AUC: the criterion
        if quality > best_auc:
            best, best_auc = a, quality
    return best


MODES = {"offline fixed a": {"offline_a": 0.3}, "offline tuned a": {}, "online": {"online": True}}


@pytest.mark.parametrize("plan_name", ["paired", "unpaired"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("gamma", [1.0, 1.5])
def test_rmia_matches_its_written_formula(plan_name, mode, gamma, plans):
    plan = plans(MODELS, EXAMPLES, AUXILIARY)[plan_name]
    assert plan.paired == (plan_name == "paired")
    logits, labels = cube(plan)
    params = {**MODES[mode], "gamma": gamma}
    got = scoring.leave_one_out(attacks.create("rmia", params), logits, labels, plan).scores
    p, members, auxiliary = p_true(logits, labels), plan.members.tolist(), (~plan.challenge).tolist()
    tuned = set()
    for target in range(MODELS):
        refs = references_of(plan, target)
        a = params.get("offline_a")
        if a is None and not params.get("online"):
            a = tuned_a(p, members, refs, auxiliary, gamma)
            tuned.add(a)
        expected = rmia(p, members, target, refs, auxiliary, range(EXAMPLES), gamma, params.get("online", False), a)
        np.testing.assert_array_equal(got[target], [expected[n] for n in range(EXAMPLES)], err_msg=f"target {target}")
    assert 0 < got.mean() < 1
    if mode == "offline tuned a":
        assert len(tuned) > 1  # the case tunes more than one value of a


def test_the_unpaired_plan_holds_unequal_in_and_out_counts(plans):
    plan = plans(MODELS, EXAMPLES, AUXILIARY)["unpaired"]
    refs = plan.references(0)
    counts = plan.members[refs][:, plan.challenge].sum(axis=0)
    assert len(set(counts.tolist())) > 2 and (counts != len(refs) - counts).all()  # K - 1 = 7 references: odd
