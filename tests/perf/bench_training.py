"""Benchmark: K models trained stacked (one vmap) versus one after another.

Trains the same 16 models of a task both ways in one process, prints the wall
time of each and their ratio, and checks that both paths give the same models.

    python tests/perf/bench_training.py [--task location] [--models 16] [--epochs 5] [--device auto]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from miabench import device as devices
from miabench import engine
from miabench.data import data_dir
from miabench.defenses.none import NoDefense
from miabench.harness import Setup, build_group
from miabench.plan import MembershipPlan
from miabench.registry import tasks


def timed_training(setup: Setup, groups: list[list[int]]) -> tuple[float, np.ndarray]:
    x, y = setup.population.x.to(setup.device), setup.population.y.to(setup.device)
    logits = []
    start = time.perf_counter()
    for indices in groups:
        models = build_group(setup, indices)
        engine.train(models, x, y, setup.plan.members, indices, setup.recipe, setup.seed, progress=False)
        logits.append(engine.predict(models, x[:512], lambda batch, view: batch, views=1))
    if setup.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, torch.cat(logits).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="location")
    parser.add_argument("--models", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    task = tasks.create(args.task)
    population = task.load(data_dir(None))
    plan = MembershipPlan.balanced(args.models, len(population), seed=0)
    recipe = dataclasses.replace(task.recipe(), epochs=args.epochs)
    defense = NoDefense()
    defense.name = "none"
    device = devices.pick(args.device)
    setup = Setup(task, population, plan, defense, recipe, 0, device)

    every = list(range(args.models))
    timed_training(setup, [every[:2]])  # warm-up (kernels, allocator)
    stacked_seconds, stacked_logits = timed_training(setup, [every])
    sequential_seconds, sequential_logits = timed_training(setup, [[k] for k in every])
    gap = float(np.abs(stacked_logits - sequential_logits).max())
    print(f"task {args.task}, {args.models} models, {args.epochs} epochs, device {devices.describe(device)}")
    print(f"stacked (vmap):  {stacked_seconds:8.2f} s")
    print(f"sequential:      {sequential_seconds:8.2f} s")
    print(f"speed-up: {sequential_seconds / stacked_seconds:.2f}x   (max |logit difference| {gap:.2e})")


if __name__ == "__main__":
    main()
