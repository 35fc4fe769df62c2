"""Benchmark (not a test) of the Ray executor against the local one, all in one process and one run:

1. the wall time of one small run's training (Location-30, K models in groups of ``--models-per-group``) on
   the local executor, with torch on one thread, as one Ray worker has it;
2. the same training as Ray tasks on a local Ray instance of one worker (``ray.init(num_cpus=1)``): its
   ratio to (1) is Ray's overhead (starting workers, importing torch in them, shipping the population);
3. the same on two workers (``num_cpus=2``): the ratio of (2) to (3) is what a second worker buys on a
   CPU-bound task (2.0 at best, less when other work shares the cores);
4. what a second plain process buys on the machine at that moment (two pure-Python spins at once against
   one), without Ray, to read (3)'s ratio against.

Each configuration trains afresh into its own cache; the signals of all three are checked to be identical.
The time to start each Ray instance is reported apart from the training's.

    python tests/perf/bench_ray.py                                # K = 4, one model a group, 3 epochs
    python tests/perf/bench_ray.py --models 8 --epochs 10 --out ray.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from miabench import executors, runner
from miabench.cache import SignalsCache
from miabench.data import data_dir
from miabench.harness import Setup, compute_signals
from miabench.plan import MembershipPlan
from miabench.spec import RunSpec


def setup_of(args) -> Setup:
    """The harness setup of a small CPU-track run, built as ``miabench run`` builds it."""
    spec = RunSpec(task=args.task, models=args.models, track="cpu", params={args.task: {"epochs": args.epochs}},
                   attacks=("loss",), progress=False)  # fmt: skip
    prepared = runner.prepare(spec)
    task, defense = prepared.task, prepared.defense
    population = task.population(data_dir(args.data_dir), False)
    auxiliary = round(task.auxiliary_fraction * len(population))
    plan = MembershipPlan.balanced(prepared.models, len(population), spec.seed, auxiliary)
    recipe = defense.training_recipe(task.recipe(prepared.track))
    return Setup(task, population, plan, defense, recipe, spec.seed, prepared.device)


def train(setup: Setup, executor, cache: Path, groups: int) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    signals, _ = compute_signals(setup, SignalsCache(cache), groups, progress=False, executor=executor)
    return time.perf_counter() - started, signals.logits


def spin(_: int = 0) -> float:
    started, total = time.perf_counter(), 0
    for i in range(20_000_000):
        total += i
    return time.perf_counter() - started


def capacity() -> float:
    """What a second process buys on this machine now, without Ray: the wall time of one pure-Python
    spin over that of two at once, each in its own process (2.0 on two idle cores; less when other
    work shares them), so the Ray workers' ratio can be read against it."""
    import concurrent.futures

    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        list(pool.map(spin, range(2)))  # start both processes first
        started = time.perf_counter()
        pool.submit(spin).result()
        one = time.perf_counter() - started
        started = time.perf_counter()
        list(pool.map(spin, range(2)))
        two = time.perf_counter() - started
    return 2 * one / two


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="location")
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--models-per-group", type=int, default=1, help="models a unit trains (default: 1)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    import ray

    setup = setup_of(args)
    units = -(-args.models // args.models_per_group)
    rows, logits = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as a one-CPU Ray task has it
        local = executors.LocalExecutor()
        seconds, logits["local"] = train(setup, local, Path(scratch) / "local", args.models_per_group)
        torch.set_num_threads(threads)
        rows["local, 1 thread"] = {"start_s": 0.0, "train_s": seconds}
        for workers in (1, 2):
            started = time.perf_counter()
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            start = time.perf_counter() - started
            cache = Path(scratch) / f"ray{workers}"
            seconds, logits[workers] = train(setup, executors.RayExecutor(), cache, args.models_per_group)
            ray.shutdown()
            rows[f"ray, {workers} worker{'s' * (workers > 1)}"] = {"start_s": start, "train_s": seconds}
    parallel = capacity()
    identical = all(np.array_equal(logits["local"], other) for other in logits.values())
    alone, one, two = (row["train_s"] for row in rows.values())
    figures = {
        "task": args.task, "models": args.models, "units": units, "epochs": args.epochs,
        "cpus": os.cpu_count(), "load_average": os.getloadavg(), "rows": rows,
        "ray_overhead_ratio": one / alone, "one_vs_two_workers_ratio": one / two, "identical_signals": identical,
        "two_processes_speedup_without_ray": parallel,
    }  # fmt: skip
    print(f"{args.task}, K = {args.models} in {units} units, {args.epochs} epochs; {os.cpu_count()} CPUs, load "
          f"{figures['load_average'][0]:.1f}")  # fmt: skip
    for name, row in rows.items():
        print(f"  {name:<16} train {row['train_s']:7.2f} s   (starting Ray {row['start_s']:5.2f} s)")
    print(f"  Ray overhead (1 worker / local, training): {figures['ray_overhead_ratio']:.2f}x")
    print(f"  1 vs 2 Ray workers (wall-time ratio):      {figures['one_vs_two_workers_ratio']:.2f}x")
    print(f"  identical signals on all three:            {identical}")
    print(f"  two plain processes vs one, no Ray:        {parallel:.2f}x (what this machine gives a second worker now)")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
