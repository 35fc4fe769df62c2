"""From a task, a plan and a defense to the signals cube, through the cache.

Models train in groups (all K stacked at once by default; one at a time for
families that cannot be stacked). Each finished group's logits are saved as a
part, and each epoch as a checkpoint, so a killed run resumes where it stopped.
Parts and checkpoints carry a checksum: a damaged one is discarded (with a warning)
and recomputed. Nothing non-finite is saved: a diverging run stops with advice.
"""

from __future__ import annotations

import dataclasses
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from miabench import device as devices
from miabench import engine, executors
from miabench.api import Defense, Population, Recipe, Task
from miabench.atomic import npz_bytes, read_checked, write_bytes
from miabench.cache import SignalsCache, config_hash
from miabench.errors import UserError
from miabench.plan import MembershipPlan
from miabench.signals import Signals


@dataclass
class Setup:
    """Everything that determines the trained models, and so the cache key."""

    task: Task
    population: Population
    plan: MembershipPlan
    defense: Defense
    recipe: Recipe
    seed: int
    device: torch.device
    strategy: str | None = None  # how groups train (engine.STRATEGIES); None: the task's choice for the device

    @property
    def training_strategy(self) -> str:
        if not self.defense.stacks:
            return "sequential"  # e.g. per-sample gradients
        return self.strategy or self.task.training_strategy(self.device)

    def config(self) -> dict:
        meta = self.task.metadata
        task = {
            "name": meta.name, "version": meta.version, "params": dataclasses.asdict(self.task),
            "model_family": self.task.model_family, "data_fingerprint": self.population.fingerprint,
        }  # fmt: skip
        recipe = self.recipe.config()
        defense = self.defense.training_config()
        precision = devices.precision(self.device)
        return run_config(task, defense, recipe, self.plan.hash, self.plan.num_models, self.seed, precision)


def run_config(task: dict, defense: dict, recipe: dict, plan_hash: str, models: int, seed: int, precision: str) -> dict:
    """What determines the trained models (the cache key), from ``task`` as a record states it
    (name, version, params, model_family, data_fingerprint) and the defense's training config."""
    return {
        "task": {key: task[key] for key in ("name", "version", "params")},
        "model_family": task["model_family"],
        "data_fingerprint": task["data_fingerprint"],
        "defense": defense,
        "recipe": recipe,
        "plan_hash": plan_hash,
        "models": models,
        "seed": seed,
        "precision": precision,
    }


def groups(num_models: int, strategy: str, models_per_group: int | None) -> list[list[int]]:
    size = 1 if strategy == "sequential" else (models_per_group or num_models)
    return [list(range(start, min(start + size, num_models))) for start in range(0, num_models, size)]


def make_model(setup: Setup) -> torch.nn.Module:
    """An untrained model of the task's family, as the defense trains and serves it."""
    return setup.defense.wrap_model(setup.task.make_model())


def build_group(setup: Setup, indices: list[int]) -> torch.nn.Module:
    modules = [engine.initialise(lambda: make_model(setup), setup.seed, k) for k in indices]
    return engine.make_group([module.to(setup.device) for module in modules], setup.training_strategy)


def train_group(setup: Setup, indices: list[int], checkpoint: Path | None, progress: bool, bar=None) -> tuple:
    """Train one group under the defense: logits ``[G, N, A, C]``, test logits ``[G, M, C]``,
    the defense's facts per model (``{name: [G]}``) and G state dicts. ``bar``: the run's overall
    progress bar, which the engine advances instead of drawing one of its own."""
    job, facts = fit_group(setup, indices, checkpoint, progress, bar)
    logits = engine.predict(job.models, job.x, setup.task.augment, len(setup.task.augmentations))
    test_logits = engine.test_logits(job.models, setup.population.x_test.to(setup.device))
    return logits.numpy(), test_logits, facts, job.models.state_dicts()


def fit_group(setup: Setup, indices: list[int], checkpoint: Path | None = None, progress: bool = False, bar=None):
    """The trained job of one group under the defense, and the defense's facts per model."""
    job = training_job(setup, indices, checkpoint, progress, bar)
    return job, setup.defense.fit(job)


def training_job(setup: Setup, indices: list[int], checkpoint: Path | None = None, progress: bool = False, bar=None):
    """One group's untrained models, with everything the engine needs to train them."""
    population, device = setup.population, setup.device
    return engine.TrainingJob(
        models=build_group(setup, indices),
        x=population.x.to(device),
        y=population.y.to(device),
        members=setup.plan.members,
        indices=indices,
        recipe=setup.recipe,
        seed=setup.seed,
        auxiliary=~setup.plan.members.any(axis=0),
        make_model=lambda: make_model(setup),
        strategy=setup.training_strategy,
        checkpoint=checkpoint,
        progress=progress,
        bar=bar,
    )


def save_part(path: Path, logits, test_logits, facts: dict, weights: list[dict]) -> None:
    facts = {f"fact:{name}": np.asarray(values, dtype=np.float64) for name, values in facts.items()}
    data = npz_bytes(logits=logits, test_logits=test_logits, **facts, **flatten_weights(weights))
    write_bytes(path, data, checked=True)  # a checksum: load_part tells a damaged part from a good one


def load_part(path: Path):
    """A group's saved results, or None when there are none or they are damaged (then they are retrained)."""
    data = read_checked(path)
    if data is None:
        return None
    with np.load(io.BytesIO(data)) as part:
        facts = {key.split(":", 1)[1]: part[key] for key in part.files if key.startswith("fact:")}
        return part["logits"], part["test_logits"], facts, unflatten_weights(part)


def flatten_weights(weights: list[dict]) -> dict[str, np.ndarray]:
    """Model state dicts as flat arrays ``"weights:<model>:<name>"`` for an .npz file (no pickle)."""
    return {f"weights:{g}:{name}": value.numpy() for g, state in enumerate(weights) for name, value in state.items()}


def unflatten_weights(arrays) -> list[dict]:
    weights: dict[int, dict] = {}
    for key in arrays.files if hasattr(arrays, "files") else arrays:
        if key.startswith("weights:"):
            _, g, name = key.split(":", 2)
            weights.setdefault(int(g), {})[name] = torch.from_numpy(arrays[key])
    return [weights[g] for g in sorted(weights)]


def compute_signals(setup: Setup, cache: SignalsCache, models_per_group: int | None = None, progress: bool = True,
                    label: str = "", executor=None) -> tuple[Signals, dict]:  # fmt: skip
    """The signals cube for ``setup``, from the cache or freshly trained; also timing info.

    ``label`` (e.g. a sweep's setting) leads the progress bar's description; ``executor``
    (:mod:`miabench.executors`; default: local) runs the groups that train."""
    config = setup.config()
    key = config_hash(config)
    cached = cache.load(key)
    if cached is None:
        with cache.lock(key):  # another run of this configuration may be training it: wait, then reuse it
            cached = cache.load(key)
            if cached is None:
                return train_all(setup, cache, key, config, models_per_group, progress, label, executor)
    info = {"cache_key": key, "cache_hit": True, "train_seconds": 0.0, "strategy": None}
    return cached, info | {"facts": cache.facts(key)}


def models_label(indices: list[int], total: int) -> str:
    """``model 3 of 16`` or ``models 1..8 of 16``, counting from 1 as people do."""
    first, last = indices[0] + 1, indices[-1] + 1
    return f"model {first} of {total}" if first == last else f"models {first}..{last} of {total}"


def train_unit(setup: Setup, unit: executors.Unit, progress: bool = False, bar=None) -> bool:
    """One unit of work, wherever an executor runs it: train the group ``unit.indices`` and save its part
    atomically at ``unit.part`` (checkpointing each epoch at ``unit.checkpoint``). False when the part is
    already saved (a retried unit whose first attempt got that far): nothing trains again."""
    if load_part(unit.part) is not None:
        return False
    indices = list(unit.indices)
    part = train_group(setup, indices, unit.checkpoint, progress, bar)
    if not all(np.isfinite(values).all() for values in part[:2]):  # checked before it is saved
        raise engine.diverged("logits", indices, setup.recipe.lr)
    save_part(unit.part, *part)
    unit.checkpoint.unlink(missing_ok=True)
    return True


def train_all(setup: Setup, cache: SignalsCache, key: str, config: dict, models_per_group, progress: bool,
              label: str = "", executor=None):  # fmt: skip
    """Train every group not yet saved in the entry's work folder (each a unit of work for ``executor``),
    then read the parts back and store the entry.

    One bar counts model-epochs over all K models, so its ETA is the whole training's."""
    started = time.perf_counter()
    executor = executor or executors.LocalExecutor()
    work = cache.work_dir(key).absolute()  # a worker elsewhere writes the parts where this process reads them
    total, epochs = setup.plan.num_models, setup.recipe.epochs
    bar = tqdm(total=total * epochs, desc=f"{label}train", unit="model-epoch", disable=not progress, file=sys.stderr)
    units, parts = [], {}
    for indices in groups(total, setup.training_strategy, models_per_group):
        name = f"models-{indices[0]:04d}-{indices[-1]:04d}"
        unit = executors.Unit(tuple(indices), work / f"{name}.npz", work / f"{name}.ckpt")
        units.append(unit)
        part = load_part(unit.part)
        if part is None:
            continue
        parts[unit] = part
        if progress:
            bar.write(f"{label}{models_label(indices, total)}: trained by an earlier run, reused", file=sys.stderr)
        bar.update(len(indices) * epochs)
    executor.train(setup, [unit for unit in units if unit not in parts], progress, bar, label)
    logits, test_logits, facts, weights = [], [], [], []
    for unit in units:
        part = parts.get(unit) or load_part(unit.part)
        if part is None:
            raise UserError(
                f"the part of {models_label(list(unit.indices), total)} is not at {unit.part} after it trained: "
                "with --executor ray the cache must be a folder every node sees at the same path (a shared "
                "filesystem; --cache-dir)"
            )
        logits.append(part[0])
        test_logits.append(part[1])
        facts.append(part[2])
        weights.extend(part[3])
    signals = Signals(
        logits=np.concatenate(logits).astype(np.float32),
        labels=setup.population.y.numpy().astype(np.int64),
        members=setup.plan.members,
        test_logits=np.concatenate(test_logits).astype(np.float32),
        test_labels=setup.population.y_test.numpy().astype(np.int64),
    ).validate("trained signals")
    bar.close()
    facts = {name: np.concatenate([group[name] for group in facts]).tolist() for name in facts[0]}
    cache.store(key, signals, config, flatten_weights(weights), facts)
    seconds = round(time.perf_counter() - started, 3)
    info = {"cache_key": key, "cache_hit": False, "train_seconds": seconds, "strategy": setup.training_strategy}
    return signals, info | {"facts": facts}
