"""Benchmark: how long each score-based attack takes to attack every model of a synthetic cube.

Builds float32 logits for K models on N examples with C classes and A views (members get
a boost on their true class; views after the first add noise) on the paired plan with an
auxiliary set, then times ``miabench.scoring.leave_one_out`` (statistic once, then every
target) for each registered attack that reads scores or logits without querying the
models. An attack that refuses the setting is skipped with its reason.

For LiRA (both modes) it then times the whole leave-one-out three ways, in the same run:
``now`` (``leave_one_out``: blockwise phi, then every target at once with ``score_all``),
``before`` (the implementation before issue 14: phi from masks and a log-sum-exp over
the whole cube, then ``score`` on each target's view), and a ``reference-style`` run (phi
from probabilities one model at a time as the reference code computes it, then per
target and per example: gather the IN and OUT lists, fit them), each the fastest of
``--repeats`` runs but the reference-style loop, which runs once. It checks that the
three give the same scores and prints the ratios; ``--out`` writes them as JSON with
the machine, its load and the command.

    python tests/perf/bench_attacks.py [--models 64] [--examples 50000] [--classes 10] [--views 1]
                                       [--attacks lira,lira-offline] [--repeats 3] [--out results/benchmarks/x.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import scipy.special
import scipy.stats  # at the top, so that no timing includes the half second importing it takes
import torch

from miabench import device, record, scoring
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


def pre_issue_phi(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """phi as miabench computed it before issue 14: masks and a log-sum-exp over the whole cube at once."""
    is_true = np.arange(log_probs.shape[-1]) == labels[:, None, None]
    true = np.where(is_true, log_probs, -np.inf).max(axis=-1)
    return true - scipy.special.logsumexp(np.where(is_true, -np.inf, log_probs), axis=-1)


def reference_style_phi(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """phi as the reference code computes it (research/mi_lira_2021, score.py), one model at a time:
    probabilities in float64, then log(p_y + 1e-45) - log(sum of the others + 1e-45)."""
    rows, at_true = [], (np.arange(len(labels)), slice(None), labels)
    for model in logits:
        probs = np.exp(model.astype(np.float64) - model.max(axis=-1, keepdims=True))
        probs /= probs.sum(axis=-1, keepdims=True)
        true = probs[at_true]
        probs[at_true] = 0
        rows.append(np.log(true + 1e-45) - np.log(probs.sum(axis=-1) + 1e-45))
    return np.stack(rows)


def timed(function, *args, repeats: int = 1):
    """The result and the fastest of ``repeats`` runs: the other helpers of a shared machine only ever add time."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args)
        seconds.append(time.perf_counter() - start)
    return result, min(seconds)


def rounded(**seconds: float) -> dict:
    return {part: round(value, 2) for part, value in seconds.items()}


def compare_lira(name: str, logits, labels, plan: MembershipPlan, repeats: int) -> dict:
    """Time LiRA's whole leave-one-out now, before issue 14 and in the reference code's style, each the
    fastest of ``repeats`` runs but the reference-style loop (minutes), which runs once."""
    attack = attacks.create(name)
    auxiliary = ~plan.challenge
    now, now_seconds = timed(lambda: scoring.leave_one_out(attack, logits, labels, plan).scores, repeats=repeats)
    # Its parts, for where the time goes; observe is the same before and now.
    log_probs, observe_seconds = timed(scoring.observe, logits, "scores", repeats=repeats)
    phi, phi_seconds = timed(attack.statistic, log_probs, labels, repeats=repeats)
    _, all_seconds = timed(attack.score_all, phi, labels, plan, repeats=repeats)

    old_phi, old_phi_seconds = timed(pre_issue_phi, log_probs, labels, repeats=repeats)
    del log_probs

    def per_target():
        return np.stack([attack.score(AttackView(old_phi[k], labels, old_phi[plan.references(k)],
                                                 plan.members[plan.references(k)], auxiliary))
                         for k in range(plan.num_models)])  # fmt: skip

    old, old_seconds = timed(per_target, repeats=repeats)
    _, reference_phi_seconds = timed(reference_style_phi, logits, labels, repeats=repeats)
    plain, plain_seconds = timed(reference_style, phi, plan, attack.online)  # on our phi, to compare scores

    difference = float((np.abs(old - now) / np.maximum(np.abs(now), 1)).max())  # relative, or absolute below 1
    assert difference < 1e-9, difference
    assert np.allclose(plain[:, plan.challenge], now[:, plan.challenge], rtol=1e-9, atol=1e-9)
    before = observe_seconds + old_phi_seconds + old_seconds
    reference = reference_phi_seconds + plain_seconds
    result = {
        "now_seconds": round(now_seconds, 2),
        "now_parts_seconds": rounded(observe=observe_seconds, phi=phi_seconds, score_all=all_seconds),
        "before_seconds": round(before, 2),
        "before_parts_seconds": rounded(observe=observe_seconds, phi=old_phi_seconds, score_per_target=old_seconds),
        "reference_style_seconds": round(reference, 2),
        "reference_style_parts_seconds": rounded(phi=reference_phi_seconds, loop=plain_seconds),
        "now_vs_before": round(before / now_seconds, 1),
        "now_vs_reference_style": round(reference / now_seconds, 1),
        "max_relative_score_difference_vs_before": difference,
    }
    print(
        f"{name}, the whole leave-one-out: {now_seconds:.2f} s now (observe {observe_seconds:.2f}, phi "
        f"{phi_seconds:.2f}, score_all {all_seconds:.2f}), {before:.2f} s before (phi {old_phi_seconds:.2f}, "
        f"per target {old_seconds:.2f}), {reference:.2f} s reference-style (phi {reference_phi_seconds:.2f}, loop "
        f"{plain_seconds:.2f})\n  now is {result['now_vs_before']}x faster than before and "
        f"{result['now_vs_reference_style']}x faster than the reference-style loop; scores differ from "
        f"before's by at most {difference:.1e} relative"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=64)
    parser.add_argument("--examples", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--attacks", default="all", help="comma-separated names, or 'all'")
    parser.add_argument("--repeats", type=int, default=3, help="LiRA's comparison keeps the fastest of this many runs")
    parser.add_argument("--out", type=Path, help="write the timings and ratios here as JSON")
    args = parser.parse_args()

    logits, labels, plan = synthetic_cube(args.models, args.examples, args.classes, args.views)
    names = attacks.names() if args.attacks == "all" else args.attacks.split(",")
    machine = record.environment(device.hardware(torch.device("cpu")))
    print(
        f"{args.models} models, {args.examples} examples ({int((~plan.challenge).sum())} auxiliary), "
        f"{args.classes} classes, {args.views} view(s); {machine['cpu']}, {machine['threads']} threads"
    )
    print(f"{'attack':<24}{'seconds':>10}{'s / target':>12}")
    seconds_of = {}
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
        seconds_of[name] = round(time.perf_counter() - start, 2)
        print(f"{name:<24}{seconds_of[name]:>10.2f}{seconds_of[name] / args.models:>12.4f}")
    load = os.getloadavg()[0]
    lira = {name: compare_lira(name, logits, labels, plan, args.repeats) for name in ("lira", "lira-offline")
            if name in names}  # fmt: skip
    if args.out:
        cube = {key: getattr(args, key) for key in ("models", "examples", "classes", "views")}
        report = {
            "command": shlex.join(["python", *sys.argv]),
            "environment": machine,
            "load_average_1min": {"before_lira": round(load, 2), "after": round(os.getloadavg()[0], 2)},
            "cube": cube | {"auxiliary": int((~plan.challenge).sum())},
            "leave_one_out_seconds": seconds_of,
            "lira_whole_leave_one_out": lira,
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
