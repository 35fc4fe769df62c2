"""Benchmark: how long each score-based attack takes to attack every model of a synthetic cube.

Builds float32 logits for K models on N examples with C classes (members get a boost
on their true class) on the paired plan with an auxiliary set, then times
``miabench.scoring.leave_one_out`` (statistic once, then every target in turn) for each
registered attack that reads scores or logits without querying the models. An attack
that refuses the setting is skipped with its reason.

    python tests/perf/bench_attacks.py [--models 64] [--examples 50000] [--classes 10]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from miabench import scoring
from miabench.errors import UserError
from miabench.plan import MembershipPlan
from miabench.registry import attacks


def synthetic_cube(models: int, examples: int, classes: int, seed: int = 0):
    """Logits [K, N, 1, C] float32: per-example difficulty, noise, and +1 on the true class of members."""
    rng = np.random.default_rng(seed)
    plan = MembershipPlan.balanced(models, examples, seed, auxiliary=examples // 10)
    labels = rng.integers(0, classes, examples)
    base = rng.normal(0, 2, (examples, classes)).astype(np.float32)
    logits = base + rng.normal(0, 0.5, (models, examples, classes)).astype(np.float32)
    logits[:, np.arange(examples), labels] += 2.0 + 1.0 * plan.members
    return logits[:, :, None, :], labels, plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=64)
    parser.add_argument("--examples", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=10)
    args = parser.parse_args()

    logits, labels, plan = synthetic_cube(args.models, args.examples, args.classes)
    print(
        f"{args.models} models, {args.examples} examples ({int((~plan.challenge).sum())} auxiliary), "
        f"{args.classes} classes, 1 view; {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"{'attack':<24}{'seconds':>10}{'s / target':>12}")
    for name in attacks.names():
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


if __name__ == "__main__":
    main()
