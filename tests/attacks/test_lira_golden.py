"""LiRA against its written formula, computed one example at a time with plain Python: both variants,
online and offline, with and without a fixed variance, on paired and unpaired plans; and its scores of
every target at once against the target-by-target path."""

import math
import statistics

import numpy as np
import pytest

from miabench import scoring
from miabench.plan import MembershipPlan
from miabench.registry import attacks

MODES = [(online, fixed) for online in (True, False) for fixed in (False, True)]


def cube(plan: MembershipPlan, views: int = 2, classes: int = 3, seed: int = 0):
    """Logits [K, N, A, C] where members are a little more confident on their label, and labels [N]."""
    models, examples = plan.members.shape
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, examples)
    logits = rng.normal(0, 2, (1, examples, 1, classes)) + rng.normal(0, 0.5, (models, examples, views, classes))
    logits += plan.members[:, :, None, None] * np.eye(classes)[labels][None, :, None, :]
    return logits, labels


MIN_STD = 1e-6  # the paper variant's floor on a std
EPSILON = 1e-30  # what the reference code adds to every std


def log_density(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - 0.5 * math.log(2 * math.pi)


def log_tail(x, mean, std):
    """log P(X > x) for X ~ N(mean, std); beyond where erfc underflows, its asymptotic series."""
    t = (x - mean) / (std * math.sqrt(2))
    if t < 25:
        return math.log(0.5 * math.erfc(t))
    series = 1 - 1 / (2 * t**2) + 3 / (4 * t**4) - 15 / (8 * t**6) + 105 / (16 * t**8)
    return -(t**2) - math.log(2 * t * math.sqrt(math.pi)) + math.log(series)


def pstd(values):
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def paper_fit(lists, rows, views, fixed):
    """{(n, a): (mean, std)}: each example's own std, or the std pooled over the examples when fixed
    or when it has a single reference; never below MIN_STD."""
    means = {(n, a): sum(lists[n][a]) / len(lists[n][a]) for n in rows for a in range(views)}
    squares = {(n, a): sum((v - means[n, a]) ** 2 for v in lists[n][a]) for n, a in means}
    count = {n: len(lists[n][0]) for n in rows}
    pooled = [math.sqrt(sum(squares[n, a] for n in rows) / sum(count.values())) for a in range(views)]
    own = {(n, a): math.sqrt(squares[n, a] / count[n]) if count[n] >= 2 and not fixed else pooled[a] for n, a in means}
    return {key: (means[key], max(own[key], MIN_STD)) for key in means}


def reference_fit(lists, rows, views, fixed, pooled_from=None):
    """{(n, a): (median, std + EPSILON)} over each example's first references, cut to the smallest count over
    ``rows``; the fixed std is that of every kept value (of ``pooled_from``'s kept values when given)."""
    size = min(len(lists[n][0]) for n in rows)
    kept = {(n, a): lists[n][a][:size] for n in rows for a in range(views)}
    pooled = pstd([v for values in kept.values() for v in values]) if pooled_from is None else pooled_from
    fits = {key: (statistics.median(values), (pooled if fixed else pstd(values)) + EPSILON)
            for key, values in kept.items()}  # fmt: skip
    return fits, pooled


def golden(phi, plan: MembershipPlan, variant: str, online: bool, fixed: bool) -> dict:
    """{(target, example): score} for every challenge example, from the written formula."""
    models, examples, views = phi.shape
    phi, members, challenge = phi.tolist(), plan.members.tolist(), plan.challenge.tolist()  # Python floats and bools
    rows = {True: [n for n in range(examples) if challenge[n]], False: list(range(examples))}  # auxiliary: never IN
    scores = {}
    for target in range(models):
        refs = plan.references(target).tolist()
        lists = {side: [[[phi[r][n][a] for r in refs if members[r][n] == side] for a in range(views)]
                        for n in range(examples)] for side in (True, False)}  # fmt: skip
        if variant == "paper":
            inside = paper_fit(lists[True], rows[True], views, fixed)
            out = paper_fit(lists[False], rows[False], views, fixed)
        else:
            inside, pooled_in = reference_fit(lists[True], rows[True], views, fixed)
            out, _ = reference_fit(lists[False], rows[False], views, fixed, pooled_in if online else None)
        for n in rows[True]:
            per_view = []
            for a in range(views):
                x = phi[target][n][a]
                if online:
                    per_view.append(log_density(x, *inside[n, a]) - log_density(x, *out[n, a]))
                elif variant == "paper":
                    per_view.append(-log_tail(x, *out[n, a]))
                else:
                    per_view.append(-log_density(x, *out[n, a]))
            scores[target, n] = sum(per_view) / views
    return scores


@pytest.mark.parametrize("plan_name", ["paired", "unpaired"])
@pytest.mark.parametrize("variant", ["paper", "reference"])
@pytest.mark.parametrize("online, fixed", MODES)
def test_lira_matches_its_written_formula(plan_name, variant, online, fixed, plans):
    plan = plans(models=8, examples=40, auxiliary=4)[plan_name]
    assert plan.paired == (plan_name == "paired")
    logits, labels = cube(plan)
    attack = attacks.create("lira", {"variant": variant, "online": online, "fixed_variance": fixed})
    phi = attack.statistic(scoring.observe(logits, "scores"), labels)
    expected = golden(phi, plan, variant, online, fixed)
    got = scoring.leave_one_out(attack, logits, labels, plan).scores
    keys = sorted(expected)
    np.testing.assert_allclose([got[key] for key in keys], [expected[key] for key in keys], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("plan_name", ["paired", "unpaired"])
@pytest.mark.parametrize("online, fixed", MODES)
def test_scoring_every_target_at_once_equals_target_by_target(plan_name, online, fixed, plans):
    plan = plans(models=16, examples=400, auxiliary=40)[plan_name]
    logits, labels = cube(plan, seed=1)
    attack = attacks.create("lira", {"online": online, "fixed_variance": fixed})
    fast = scoring.leave_one_out(attack, logits, labels, plan).scores
    slow = scoring.leave_one_out(attack, logits, labels, plan, per_target=True).scores
    assert np.allclose(fast, slow, rtol=1e-12, atol=1e-12)
