"""Benchmark: how long each score-based attack takes to attack every model of a synthetic cube.

Builds float32 logits for K models on N examples with C classes and A views (members get
a boost on their true class; views after the first add noise) on the paired plan with an
auxiliary set, then times ``miabench.scoring.leave_one_out`` (statistic once, then every
target) for each registered attack that reads scores or logits without querying the
models. An attack that refuses the setting is skipped with its reason.

For LiRA it then times, from the same statistic, the scoring of every target three
ways: ``score`` on each target's view (the path before ``score_all``), ``score_all``
(all targets at once, what ``leave_one_out`` now uses), and a straightforward loop in
the style of the reference code (per target, per example: gather the IN and OUT
lists, fit them), and prints the ratios.

    python tests/perf/bench_attacks.py [--models 64] [--examples 50000] [--classes 10] [--views 1]
                                       [--attacks lira,lira-offline]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import scipy.stats  # at the top, so that no timing includes the half second importing it takes
import torch

from miabench import scoring
from miabench.api import AttackView
from miabench.attacks.lira import MIN_STD
from miabench.errors import UserError
from miabench.plan import MembershipPlan
from miabench.registry import attacks


def synthetic_cube(models: int, examples: int, classes: int, views: int = 1, seed: int = 0):
    """Logits [K, N, A, C] float32: per-example difficulty, noise, and +1 on the true class of members."""
    rng = np.random.default_rng(seed)
    plan = MembershipPlan.balanced(models, examples, seed, auxiliary=examples // 10)
    labels = rng.integers(0, classes, examples)
    base = rng.normal(0, 2, (examples, classes)).astype(np.float32)
    logits = base + rng.normal(0, 0.5, (models, examples, classes)).astype(np.float32)
    logits[:, np.arange(examples), labels] += 2.0 + 1.0 * plan.members
    logits = np.repeat(logits[:, :, None, :], views, axis=2)
    logits[:, :, 1:] += rng.normal(0, 0.2, (models, examples, views - 1, classes)).astype(np.float32)
    return logits, labels, plan


def reference_style(phi: np.ndarray, plan: MembershipPlan, online: bool) -> np.ndarray:
    """LiRA (paper variant, each example's own variance) the plain way: for every target and every example,
    gather the references' phi IN and OUT and fit a Gaussian to each."""
    norm = scipy.stats.norm
    by_example = phi.transpose(1, 0, 2)  # [N, K, A]: one example's phi over the models, contiguous
    examples, views = by_example.shape[0], by_example.shape[2]
    rows = []
    for target in range(plan.num_models):
        references = plan.references(target)
        members = plan.members[references].T  # [N, R]
        fits = {side: (np.zeros((examples, views)), np.ones((examples, views))) for side in (True, False)}
        for n in range(examples):
            for side in (True, False) if online else (False,):
                values = by_example[n, references[members[n] == side]]
                if len(values):  # auxiliary examples have no IN reference and are not judged
                    fits[side][0][n], fits[side][1][n] = values.mean(axis=0), np.maximum(values.std(axis=0), MIN_STD)
        target_phi = phi[target]
        if online:
            ratio = norm.logpdf(target_phi, *fits[True]) - norm.logpdf(target_phi, *fits[False])
        else:
            ratio = -norm.logsf(target_phi, *fits[False])
        rows.append(ratio.mean(axis=1))
    return np.stack(rows)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def compare_lira(name: str, logits, labels, plan: MembershipPlan) -> None:
    """Time LiRA's three ways of scoring every target from the statistic they share."""
    attack = attacks.create(name)
    phi, statistic_seconds = timed(lambda: attack.statistic(scoring.observe(logits, "scores"), labels))
    auxiliary = ~plan.challenge

    def view(k: int) -> AttackView:  # as leave_one_out builds it
        return AttackView(phi[k], labels, phi[plan.references(k)], plan.members[plan.references(k)], auxiliary)

    old, old_seconds = timed(lambda: np.stack([attack.score(view(k)) for k in range(plan.num_models)]))
    new, new_seconds = timed(attack.score_all, phi, labels, plan)
    plain, plain_seconds = timed(reference_style, phi, plan, attack.online)
    assert np.allclose(old, new, rtol=1e-12, atol=1e-12)
    assert np.allclose(plain[:, plan.challenge], new[:, plan.challenge], rtol=1e-9, atol=1e-9)
    print(
        f"{name}: scoring every target from the statistic: {old_seconds:.2f} s target by target (old), "
        f"{new_seconds:.2f} s at once (new), {plain_seconds:.2f} s reference-style loop\n"
        f"  new is {old_seconds / new_seconds:.1f}x faster than old and {plain_seconds / new_seconds:.1f}x faster "
        f"than the reference-style loop; with the statistic ({statistic_seconds:.2f} s), leave_one_out goes from "
        f"{statistic_seconds + old_seconds:.2f} s to {statistic_seconds + new_seconds:.2f} s "
        f"({(statistic_seconds + old_seconds) / (statistic_seconds + new_seconds):.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=64)
    parser.add_argument("--examples", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--attacks", default="all", help="comma-separated names, or 'all'")
    args = parser.parse_args()

    logits, labels, plan = synthetic_cube(args.models, args.examples, args.classes, args.views)
    names = attacks.names() if args.attacks == "all" else args.attacks.split(",")
    print(
        f"{args.models} models, {args.examples} examples ({int((~plan.challenge).sum())} auxiliary), "
        f"{args.classes} classes, {args.views} view(s); {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"{'attack':<24}{'seconds':>10}{'s / target':>12}")
    for name in names:
        attack = attacks.create(name)
        threat = attack.threat_model()
        if threat.access not in ("scores", "logits") or threat.queries:
            continue
        start = time.perf_counter()
        try:
            scoring.leave_one_out(attack, logits, labels, plan)
        except UserError as error:
            print(f"{name:<24}skipped: {error}")
            continue
        seconds = time.perf_counter() - start
        print(f"{name:<24}{seconds:>10.2f}{seconds / args.models:>12.4f}")
    for name in ("lira", "lira-offline"):
        if name in names:
            compare_lira(name, logits, labels, plan)


if __name__ == "__main__":
    main()
