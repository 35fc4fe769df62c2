"""Helpers for the attack tests: an attack's mean AUC on a cube, the scores of one model's outputs, paired
and unpaired plans, and the simple attacks run twice on the session's cached Location models."""

import numpy as np
import pytest

import miabench
from miabench import scoring
from miabench.api import AttackView
from miabench.metrics import auc
from miabench.plan import MembershipPlan
from miabench.registry import attacks

# The attacks that read only a model's outputs (or none): cheap to run on the cached location models.
SIMPLE_ATTACKS = ("confidence", "entropy", "modified-entropy", "gap", "population", "reference", "blind", "loss")


def mean_auc_of(name, cube, **params):
    logits, labels, plan = cube
    attack = attacks.create(name, params)
    scores = scoring.leave_one_out(attack, logits, labels, plan).scores
    return np.mean([auc(scores[k], plan.members[k]) for k in range(len(scores))])


def score_one_model(name, log_probs, labels, auxiliary=None, **params):
    attack = attacks.create(name, params)
    statistic = attack.statistic(log_probs[None], labels)
    n = len(labels)
    auxiliary = np.zeros(n, bool) if auxiliary is None else auxiliary
    view = AttackView(scoring.take(statistic, 0), labels, statistic, np.ones((1, n), bool), auxiliary)
    return attack.score(view)


def paired_and_unpaired(models: int, examples: int, auxiliary: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    members = np.zeros((models, examples), dtype=bool)
    for n in range(auxiliary, examples):
        members[rng.permutation(models)[: rng.integers(2, models - 1)], n] = True
    return {"paired": MembershipPlan.balanced(models, examples, seed, auxiliary), "unpaired": MembershipPlan(members)}


@pytest.fixture
def plans():
    """``plans(models, examples, auxiliary, seed=0)``: ``{"paired": the balanced plan, "unpaired": ...}``; in the
    unpaired one each challenge example is in 2 to K - 2 of the K models at random, so that the K - 1 references
    of every target hold it IN and OUT, in unequal numbers, and the first ``auxiliary`` examples are in none."""
    return paired_and_unpaired


@pytest.fixture
def mean_auc():
    """``mean_auc(name, (logits, labels, plan), **params)``: the attack's AUC averaged over the targets."""
    return mean_auc_of


@pytest.fixture
def score_one():
    """``score_one(name, log_probs, labels, auxiliary=None, **params)``: the attack's scores of the single
    model whose log-probabilities ``[N, A, C]`` are given (it serves as its own reference)."""
    return score_one_model


@pytest.fixture(scope="session")
def location_runs(location_run, data_dir):
    """``(first, second, root)``: SIMPLE_ATTACKS on the session's cached location models, run twice;
    ``first`` and ``second`` are Results, written under ``root/basic-1`` and ``root/basic-2``."""
    root = location_run["root"]

    def run(out):
        return miabench.evaluate(
            task="location", attacks=list(SIMPLE_ATTACKS), models=16, data_dir=data_dir, out=root / out,
            cache_dir=root / "cache", progress=False,
        )  # fmt: skip

    return run("basic-1"), run("basic-2"), root
