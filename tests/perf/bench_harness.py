"""Benchmark of the fixed harness on an image task: training strategies and the whole evaluation.

In one process: (1) the end-to-end evaluation — train K models, extract the signals
(every view), run LiRA online, LiRA offline and RMIA — timed per stage, with each
model's test accuracy; (2) the same K models trained by each batched strategy
(stacked vmap, grouped network); (3) the sequential one-model-at-a-time loop on a
few of the models (it takes as long per model at any K). Prints a table and writes
JSON with the device name.

    python tests/perf/bench_harness.py --profile gpu                       # cifar10, K = 64, on a GPU
    python tests/perf/bench_harness.py --profile cpu --models 8 --epochs 2 # a short run on the CPU
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import miabench
from miabench import device as devices
from miabench import record, runner
from miabench.api import STRATEGIES
from miabench.cache import SignalsCache
from miabench.data import data_dir
from miabench.harness import Setup, compute_signals
from miabench.plan import MembershipPlan
from miabench.registry import defenses, tasks

ATTACKS = ("lira", "lira-offline", "rmia")


def summary(record) -> dict:
    return {"auc": record.metrics.auc.mean, "tpr_at_1%_fpr": record.metrics.tpr_at_fpr["0.01"].mean}


def end_to_end(args, params: dict, cache: Path, out: Path) -> dict:
    started = time.perf_counter()
    records = miabench.evaluate(
        task=args.task, attacks=ATTACKS, models=args.models, params=params, track=args.profile,
        data_dir=args.data_dir, cache_dir=cache, out=out, progress=False, device=args.device,
    )  # fmt: skip
    total = time.perf_counter() - started
    first = records[0]
    stages = {"train_and_signals": first.timings.train_seconds}
    stages |= {record.attack.name: record.timings.attack_seconds for record in records}
    stages["loading_and_records"] = total - sum(stages.values())
    stages["total"] = total
    return {
        "stages_seconds": {name: round(value, 2) for name, value in stages.items()},
        "strategy": first.timings.strategy,
        "models": first.models,
        "test_accuracy": first.utility.test_accuracy.model_dump(),
        "metrics": {record.attack.name: summary(record) for record in records},
        "environment": first.environment.model_dump(exclude_none=True),
        "recipe": dataclasses.asdict(first.recipe),
    }


def train_only(setup: Setup, strategy: str, models: int) -> dict:
    """Train the first ``models`` models of the plan by ``strategy`` (signals included), from a cold cache."""
    plan = MembershipPlan(setup.plan.members[:models])
    trial = Setup(setup.task, setup.population, plan, setup.defense, setup.recipe, setup.seed, setup.device, strategy)
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        signals, _ = compute_signals(trial, SignalsCache(Path(cache)), progress=False)
        seconds = time.perf_counter() - started
    accuracy = (signals.test_logits.argmax(-1) == signals.test_labels).mean(1)
    return {
        "models": models,
        "seconds": round(seconds, 2),
        "models_per_minute": round(60 * models / seconds, 2),
        "test_accuracy": [round(float(a), 4) for a in accuracy],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="cifar10")
    parser.add_argument("--track", "--profile", dest="profile", default="auto", help="cpu, gpu or auto")
    parser.add_argument("--models", type=int, help="K (default: the track's)")
    parser.add_argument("--epochs", type=int, help="fewer epochs than the track's, for a quick run")
    parser.add_argument("--sequential-models", type=int, default=4, help="models trained one at a time")
    parser.add_argument("--strategies", default="stacked,grouped", help="batched strategies to compare")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks"))
    args = parser.parse_args()

    profile, device = runner.resolve_track(args.profile, args.device)
    args.profile = profile
    params = {f"{args.task}.{k}": str(v) for k, v in runner.track_params(tasks.entry(args.task).component_class,
                                                                         profile).items()}  # fmt: skip
    if args.epochs is not None:
        params["epochs"] = str(args.epochs)

    with tempfile.TemporaryDirectory() as scratch:
        whole = end_to_end(args, params, Path(scratch) / "cache", Path(scratch) / "out")
    k = whole["models"]
    print(f"end to end ({whole['strategy']}): {whole['stages_seconds']}")

    task = tasks.create(args.task, {key.split(".", 1)[-1]: value for key, value in params.items()})
    population = task.load(data_dir(args.data_dir), progress=False)
    plan = MembershipPlan.balanced(k, len(population), 0, round(task.auxiliary_fraction * len(population)))
    setup = Setup(task, population, plan, defenses.create("none"), task.recipe(profile), 0, device)
    strategies = {name: train_only(setup, name, k) for name in args.strategies.split(",")}
    strategies["sequential"] = train_only(setup, "sequential", min(args.sequential_models, k))
    for name, outcome in strategies.items():
        print(f"{name:>10}: {outcome['models']} models in {outcome['seconds']} s = {outcome['models_per_minute']}/min")
    sequential = strategies["sequential"]["models_per_minute"]
    fastest = max(strategies, key=lambda name: strategies[name]["models_per_minute"])
    report = {
        "task": args.task,
        "profile": profile,
        "device": devices.describe(device),
        "environment": record.environment(devices.hardware(device)),
        "end_to_end": whole,
        "strategies": strategies,
        "speedup_vs_sequential": {
            name: round(outcome["models_per_minute"] / sequential, 2) for name, outcome in strategies.items()
        },
        "fastest": fastest,
        "strategy_choices": STRATEGIES,
    }
    name = f"harness-{profile}-{args.task}-K{k}" + (f"-epochs{args.epochs}" if args.epochs else "")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(record.json_safe(report), indent=2) + "\n")
    print(f"speed-up over sequential: {report['speedup_vs_sequential']}; fastest: {fastest}")
    print(f"written to {args.out / name}.json")


if __name__ == "__main__":
    main()
