"""One benchmark run: task -> plan -> training -> signals -> attacks -> records.

``run`` trains (or loads from the cache) the K models of a task under a defense
and attacks them; ``score`` attacks a signals file trained elsewhere. Both write
one record per attack.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from miabench import device as devices
from miabench import engine, results, scoring
from miabench.api import PROFILES, class_subgroups
from miabench.cache import SignalsCache, config_hash
from miabench.data import data_dir as resolve_data_dir
from miabench.errors import UserError
from miabench.harness import Setup, compute_signals, make_model, unflatten_weights
from miabench.oracle import Oracle
from miabench.outliers import outlier_mask
from miabench.params import route
from miabench.plan import MembershipPlan
from miabench.registry import attacks as attack_registry
from miabench.registry import defenses as defense_registry
from miabench.registry import tasks as task_registry
from miabench.signals import Signals

DEFAULT_TASK = "location"
DEFAULT_ATTACKS = ("loss", "lira", "lira-offline")
DEFAULT_DEFENSE = "none"
ALL = "all"  # --attack all: every registered attack the setting supports


def track_params(task_class, profile: str) -> dict:
    """The task parameters that the track ``profile`` pins (the GPU profile's, when the task has one)."""
    chosen = task_class.gpu_profile if profile == "gpu" else None
    return dict(chosen.params) if chosen is not None else {}


def create_components(task: str | None, attack_names, defense: str | None, params: dict[str, str]):
    """Instances of the named components, each with the ``--param`` values addressed to it."""
    classes = {}
    if task is not None:
        classes[task] = task_registry.entry(task).component_class
    if defense is not None:
        classes[defense] = defense_registry.entry(defense).component_class
    for name in attack_names:
        classes[name] = attack_registry.entry(name).component_class
    routed = route(params, classes)
    task_instance = task_registry.create(task, routed[task]) if task is not None else None
    defense_instance = defense_registry.create(defense, routed[defense]) if defense is not None else None
    attack_instances = [attack_registry.create(name, routed[name]) for name in attack_names]
    return task_instance, attack_instances, defense_instance


def attack_signals(attack, logits, labels, plan: MembershipPlan, seed: int, subgroups: dict, **access) -> dict:
    """Scores, metrics and timing of one attack on every target of a cube.

    ``access`` may give the candidates' ``inputs`` and an ``oracle`` for attacks that query.
    """
    started = time.perf_counter()
    scored = scoring.leave_one_out(attack, logits, labels, plan, **access)
    seconds = time.perf_counter() - started
    outcome = results.attack_metrics(scored.scores, scored.chosen, plan.members, subgroups, seed)
    return {**outcome, "scored": scored, "attack_seconds": round(seconds, 3)}


def attack_record(attack, outcome: dict) -> dict:
    threat = attack.threat_model()
    record = {
        "attack": {
            **results.component(attack),
            "threat_model": dataclasses.asdict(threat),
            "queries": outcome["scored"].queries,
        },
        "citation": {"attack": attack.citation},
    }
    metric_keys = ("metrics", "metrics_by_subgroup", "base_metrics", "amplification", "per_target")
    return record | {key: outcome[key] for key in metric_keys if key in outcome}


def oracles(setup: Setup, cache: SignalsCache, key: str, attack):
    """For an attack that queries: a function opening counted queries to model k, within its budget.

    Queries are served as the defense serves every output."""
    budget = attack.threat_model().queries
    if not budget:
        return None
    weights = unflatten_weights(cache.load_weights(key))

    def open_oracle(k: int) -> Oracle:
        def serve(logits: np.ndarray) -> np.ndarray:  # [B, C]
            return setup.defense.observe(logits[None, :, None], logits.argmax(-1), None, np.array([k]))[0, :, 0]

        model = make_model(setup)
        model.load_state_dict(weights[k])
        return Oracle(model, budget, setup.device, serve)

    return open_oracle


def supported(attack_objs: list, num_models: int, references: int, auxiliary: int) -> tuple[list, list[str]]:
    """The attacks this setting can run, and a line for each it cannot."""
    kept, skipped = [], []
    for attack in attack_objs:
        try:
            scoring.check(attack, num_models, references, auxiliary)
            kept.append(attack)
        except UserError as error:
            skipped.append(str(error))
    return kept, skipped


def resolve_profile(name: str | None, device: str | None):
    """The track and the device: ``auto`` is the GPU track where CUDA is visible and the CPU track elsewhere."""
    if name in (None, "auto"):
        name = "gpu" if torch.cuda.is_available() else "cpu"
    if name not in PROFILES:
        raise UserError(f"--profile {name}: no such track; use cpu, gpu or auto")
    if name == "gpu":
        if not torch.cuda.is_available():
            raise UserError(
                "--profile gpu needs a CUDA GPU and torch sees none here: run it on a GPU machine, "
                "or use --profile cpu (the CPU track)"
            )
        if device not in (None, "auto") and not device.startswith("cuda"):
            raise UserError(f"--profile gpu trains on the GPU: leave out --device {device}, or use --profile cpu")
    return name, devices.pick(device)


def overrides(task_obj, reference, num_models: int, profile) -> dict:
    """What a run changed of its track: task parameters that differ from the track's, and K."""
    changed = {name: value for name, value in dataclasses.asdict(task_obj).items() if value != getattr(reference, name)}
    if num_models != profile.models:
        changed["models"] = num_models
    return changed


def run(
    task: str = DEFAULT_TASK,
    attacks=DEFAULT_ATTACKS,
    defense: str = DEFAULT_DEFENSE,
    family: str | None = None,
    models: int | None = None,
    seed: int = 0,
    params: dict[str, str] | None = None,
    out: Path | None = None,
    data_dir: str | None = None,
    device: str | None = None,
    models_per_group: int | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    profile: str | None = None,
    strategy: str | None = None,
) -> list[dict]:
    """Train (or load) the models of ``task`` under ``defense`` and attack each in turn.

    ``profile`` is the track (cpu, gpu; None or auto: gpu where CUDA is visible); its
    recipe, K and task parameters apply unless ``models`` or ``params`` override them,
    and the record says what was overridden. ``strategy`` forces how groups of models
    train (engine.STRATEGIES), e.g. for benchmarks; it does not change the models.
    """
    profile, torch_device = resolve_profile(profile, device)
    task_class = task_registry.entry(task).component_class
    track = {f"{task}.{k}": str(v) for k, v in track_params(task_class, profile).items()}
    params = track | dict(params or {})  # the run's own values win over the track's
    if family is not None:
        if "family" not in task_class.__dataclass_fields__:
            meta = task_class.metadata
            raise UserError(f"--family: task '{task}' has one model family ({meta.model_family}); leave --family out")
        params[f"{task}.family"] = family
        track[f"{task}.family"] = family  # the family is part of the track
    if strategy is not None and strategy not in engine.STRATEGIES:
        raise UserError(f"--strategy {strategy}: unknown; use one of {', '.join(engine.STRATEGIES)}")
    every = list(attacks) == [ALL]
    names = attack_registry.names() if every else list(attacks)
    task_obj, attack_objs, defense_obj = create_components(task, names, defense, params)
    reference_task = task_registry.create(task, {key.split(".", 1)[1]: value for key, value in track.items()})
    track_profile = task_obj.profile(profile)
    num_models = models if models is not None else track_profile.models
    MembershipPlan.check(num_models)
    if models_per_group is not None and models_per_group < 1:
        raise UserError(
            f"--models-per-group {models_per_group}: give at least 1, or leave it out to train all K together"
        )
    if not 0 <= task_obj.auxiliary_fraction < 1:
        raise UserError(f"auxiliary_fraction={task_obj.auxiliary_fraction}: give a share in [0, 1), e.g. 0.1")
    # Refuse (or, for --attack all, skip) what this setting cannot run, before training anything.
    attack_objs, skipped = supported(attack_objs, num_models, num_models - 2, int(task_obj.auxiliary_fraction > 0))
    if skipped and not every:
        raise UserError(skipped[0])
    for line in skipped:
        warnings.warn(f"skipped: {line}", stacklevel=2)

    data_root = resolve_data_dir(data_dir)
    population = task_obj.load(data_root, progress)
    auxiliary = round(task_obj.auxiliary_fraction * len(population))
    plan = MembershipPlan.balanced(num_models, len(population), seed, auxiliary)
    recipe = defense_obj.training_recipe(task_obj.recipe(profile))
    setup = Setup(task_obj, population, plan, defense_obj, recipe, seed, torch_device, strategy)
    cache = SignalsCache(cache_dir)
    signals, train_info = compute_signals(setup, cache, models_per_group, progress)
    facts = train_info.pop("facts")
    every_model = np.arange(plan.num_models)
    observed = defense_obj.observe(signals.logits, signals.labels, plan.members, every_model)
    served_test = defense_obj.observe(signals.test_logits[:, :, None], signals.test_labels, None, every_model)[:, :, 0]

    config = setup.config()
    meta = task_obj.metadata
    base = {
        **results.header(),
        "task": {
            **results.component(task_obj),
            "version": meta.version,
            "model_family": task_obj.model_family,
            "data_fingerprint": population.fingerprint,
            # Which copy the data came from; the fingerprint tells copies apart exactly.
            "data_source": population.source or ("local copy" if data_root is not None else meta.source),
        },
        "profile": {"name": profile, "overrides": overrides(task_obj, reference_task, num_models, track_profile)},
        "defense": {**results.component(defense_obj), "facts": results.facts(facts)},
        "recipe": dataclasses.asdict(setup.recipe),
        "seed": seed,
        "models": plan.num_models,
        "examples": plan.num_examples,
        "views": signals.shape[2],
        "classes": signals.shape[3],
        "plan_hash": plan.hash,
        "plan_paired": plan.paired,
        "auxiliary": int((~plan.challenge).sum()),
        "precision": config["precision"],
        "environment": results.environment(devices.hardware(torch_device)),
        "utility": results.utility(served_test, signals.test_labels, meta.class_names, meta.flagged_class),
    }
    out = Path(out) if out is not None else Path("miabench-results") / f"{task}-{defense}-K{num_models}-seed{seed}"
    records = []
    subgroups = {**task_obj.subgroups(signals.labels), "outliers": outlier_mask(population.x, signals.labels)}
    for attack in attack_objs:
        oracle = oracles(setup, cache, train_info["cache_key"], attack)
        outcome = attack_signals(
            attack, observed, signals.labels, plan, seed, subgroups, inputs=population.x, oracle=oracle
        )
        record = {**base, **attack_record(attack, outcome)}
        record["citation"] = {"task": meta.citation, "defense": defense_obj.citation, **record["citation"]}
        record["config_hash"] = config_hash({**config, "attack": results.component(attack)})
        record["timings"] = {**train_info, "attack_seconds": outcome["attack_seconds"]}
        results.write(out / attack.name, record, outcome["scored"], plan.members, signals.labels, population.ids)
        records.append(record)
    return records


def score(signals_path: Path, attack: str, params: dict[str, str] | None = None, out: Path = Path("."), seed: int = 0):
    """Attack every model of a signals file in turn and write ``out/result.json``."""
    _, (attack_obj,), _ = create_components(None, [attack], None, params or {})
    signals = Signals.load(signals_path)
    plan = MembershipPlan(signals.members)
    if plan.leaks:
        warnings.warn(
            f"{signals_path}: the references' memberships reveal each target's (every example is in the same "
            f"number of models); pair the models (2j, 2j+1 splitting the examples) for a leak-free evaluation",
            stacklevel=2,
        )
    subgroups = class_subgroups(signals.labels, signals.shape[3])
    outcome = attack_signals(attack_obj, signals.logits, signals.labels, plan, seed, subgroups)
    k, n, a, c = signals.shape
    fingerprint = results.sha256_file(signals_path)
    record = {
        **results.header(),
        "task": {"name": None, "source": "signals file", "data_fingerprint": fingerprint},
        "defense": None,
        "seed": seed,
        "models": k,
        "examples": n,
        "views": a,
        "classes": c,
        "plan_hash": plan.hash,
        "plan_paired": plan.paired,
        "plan_leaks": plan.leaks,
        "environment": results.environment({"device": "n/a (signals file)"}),
        "utility": results.utility(signals.test_logits, signals.test_labels),
        **attack_record(attack_obj, outcome),
        "config_hash": config_hash({"signals": fingerprint, "attack": results.component(attack_obj)}),
        "timings": {"attack_seconds": outcome["attack_seconds"]},
    }
    results.write(Path(out), record, outcome["scored"], plan.members, signals.labels, np.arange(n))
    return record
