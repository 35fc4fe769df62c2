"""One benchmark run: spec -> components -> plan -> training -> signals -> attacks -> records.

:func:`prepare` turns a :class:`~miabench.spec.RunSpec` into checked components before anything
loads or trains; :func:`run` trains (or loads from the cache) the K models of the task under the
defense and attacks each in turn; :func:`score` attacks a signals file (or arrays) trained
elsewhere. Both return one :class:`~miabench.record.Record` per attack, and write it with its
per-example scores when the spec names a folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from miabench import api, executors, measure, record, scoring, summary
from miabench import device as devices
from miabench.atomic import sha256_file, write_bytes
from miabench.cache import SignalsCache
from miabench.data import data_dir as resolve_data_dir
from miabench.data import fingerprint
from miabench.errors import UserError
from miabench.harness import Setup, compute_signals, make_model, unflatten_weights
from miabench.oracle import Oracle
from miabench.outliers import outlier_mask
from miabench.plan import MembershipPlan
from miabench.registry import attacks as attack_registry
from miabench.registry import defenses as defense_registry
from miabench.registry import tasks as task_registry
from miabench.signals import Signals
from miabench.spec import ALL, RunSpec


def track_params(task_class, track: str) -> dict:
    """The task parameters that the track pins (the GPU profile's, when the task has one)."""
    chosen = task_class.gpu_profile if track == "gpu" else None
    return dict(chosen.params) if chosen is not None else {}


def resolve_track(name: str, device: str):
    """The track and the device: ``auto`` is the GPU track where CUDA is visible and the CPU track elsewhere."""
    if name == "auto":
        name = "gpu" if torch.cuda.is_available() else "cpu"
    if name == "gpu":
        if not torch.cuda.is_available():
            raise UserError(
                "--track gpu needs a CUDA GPU and torch sees none here: run it on a GPU machine, "
                "or use --track cpu (the CPU track)"
            )
        if device != "auto" and not device.startswith("cuda"):
            raise UserError(f"--track gpu trains on the GPU: leave out --device {device}, or use --track cpu")
    return name, devices.pick(device)


@dataclass
class Prepared:
    """A spec resolved into checked components: everything that can be refused is refused by now."""

    spec: RunSpec
    track: str
    device: torch.device
    task: api.Task
    reference_task: api.Task  # the task as its track pins it: what the run overrides is recorded
    defense: api.Defense
    attacks: list[api.Attack]
    skipped: list[str]  # with attacks = ["all"]: a line for each attack this setting cannot run
    models: int


def prepare(spec: RunSpec) -> Prepared:
    """Build and check every component of ``spec``, and the setting each attack needs, before any data loads."""
    track, device = resolve_track(spec.track, spec.device)
    task_class = task_registry.entry(spec.task).component_class
    pinned = track_params(task_class, track)
    own = spec.of(spec.task)
    task = task_registry.create(spec.task, {**pinned, **own})
    reference = task_registry.create(spec.task, {**pinned, **({"family": own["family"]} if "family" in own else {})})
    defense = defense_registry.create(spec.defense, spec.of(spec.defense))
    every = spec.attacks == (ALL,)
    names = attack_registry.names() if every else list(spec.attacks)
    attacks = [attack_registry.create(name, spec.of(name)) for name in names]
    models = spec.models if spec.models is not None else task.profile(track).models
    MembershipPlan.check(models)
    attacks, skipped = supported(attacks, models, int(task.auxiliary_fraction > 0))
    if skipped and not every:
        raise UserError(skipped[0])
    return Prepared(spec, track, device, task, reference, defense, attacks, skipped, models)


def supported(
    attacks: list, models: int, auxiliary: int, references: int | None = None, queries: bool = True
) -> tuple[list, list[str]]:
    """The attacks a setting of ``models`` models can run, and a line for each it cannot.

    ``references``: each target's (default: the paired plan's K - 2); ``queries``: whether the
    models are at hand to answer queries (not for a signals file).
    """
    kept, skipped = [], []
    for attack in attacks:
        try:
            scoring.check(attack, models, models - 2 if references is None else references, auxiliary)
            budget = attack.threat_model().queries
            if budget and not queries:
                raise UserError(
                    f"attack '{attack.name}' queries the targets (a budget of {budget}) and a signals file has no "
                    "models to query; run it with 'miabench run'"
                )
            kept.append(attack)
        except UserError as error:
            skipped.append(str(error))
    return kept, skipped


def overrides(prepared: Prepared) -> dict:
    """What a run changed of its track: task parameters that differ from the track's, and K."""
    task, reference = prepared.task, prepared.reference_task
    changed = {key: value for key, value in dataclasses.asdict(task).items() if value != getattr(reference, key)}
    if prepared.models != task.profile(prepared.track).models:
        changed["models"] = prepared.models
    return changed


# Reference models below which an attack's numbers understate it, by registered name. LiRA's paper
# (Carlini et al. 2022) trains 64 or more and shows its power at low FPR falling as they get fewer;
# 8 is where this benchmark starts to warn. RMIA is built to work with a few references and is not listed.
RECOMMENDED_REFERENCES = {"lira": 8, "lira-offline": 8}


def warn_few_references(attacks: list, references: int) -> None:
    """One warning per attack that runs with fewer references than RECOMMENDED_REFERENCES gives it."""
    for attack in attacks:
        wanted = RECOMMENDED_REFERENCES.get(attack.name, 0)
        if references < wanted:
            warnings.warn(
                f"attack '{attack.name}' runs with only {references} reference models per target, under the "
                f"{wanted} below which its power at low FPR falls off (its paper uses 64+): read its numbers as a "
                f"lower bound, or raise --models to {wanted + 2} or more",
                stacklevel=3,
            )


def say(spec: RunSpec, line: str) -> None:
    """A progress line on stderr, unless the spec turns progress off."""
    if spec.progress:
        print(line, file=sys.stderr, flush=True)


def run(spec: RunSpec, label: str = "") -> list[record.Record]:
    """Train (or load) the models of the spec's task under its defense and attack each in turn.

    With ``spec.out``, each attack's record goes to ``out/<attack>/`` and the run's summary
    (:mod:`miabench.summary`) to ``out``. ``label`` (a sweep's setting) prefixes the progress lines.
    """
    prepared = prepare(spec)
    executor = executors.create(spec.executor, spec.address, prepared.track)  # a missing Ray is said before data loads
    for line in prepared.skipped:
        warnings.warn(f"skipped: {line}", stacklevel=2)
    prefix = f"[{label}] " if label else ""
    task, defense = prepared.task, prepared.defense
    data_root = resolve_data_dir(spec.data_dir)
    population = task.population(data_root, spec.progress)
    warn_few_references(prepared.attacks, prepared.models - 2)  # a paired plan's; after a missing file's error
    pin = prepared.reference_task.pinned_data(prepared.track)
    if pin is not None and task == prepared.reference_task and population.fingerprint != pin.fingerprint:
        warnings.warn(
            f"the {spec.task} data loaded (fingerprint {population.fingerprint[:12]}…) is not the copy task version "
            f"{task.metadata.version} is defined on ({pin.fingerprint[:12]}…): the results are not comparable with the "
            "board's, and the leaderboard refuses them; use the documented copy (MIABENCH_DATA_DIR)",
            stacklevel=2,
        )
    auxiliary = round(task.auxiliary_fraction * len(population))
    plan = MembershipPlan.balanced(prepared.models, len(population), spec.seed, auxiliary)
    recipe = defense.training_recipe(task.recipe(prepared.track))
    setup = Setup(task, population, plan, defense, recipe, spec.seed, prepared.device, spec.strategy)
    cache = SignalsCache(spec.cache_dir)
    signals, trained = compute_signals(setup, cache, spec.models_per_group, spec.progress, prefix, executor)

    every_model = np.arange(plan.num_models)
    defense.fit_serving(signals.logits, signals.labels, plan.members)  # once, before anything is served
    observed = defense.observe(signals.logits, signals.labels, plan.members, every_model)
    served_test = defense.observe(signals.test_logits[:, :, None], signals.test_labels, None, every_model)[:, :, 0]

    meta = task.metadata
    shared = {
        "task": {
            "name": spec.task, "version": meta.version, "params": dataclasses.asdict(task),
            "model_family": task.model_family, "data_fingerprint": population.fingerprint,
            # Which copy the data came from; the fingerprint tells copies apart exactly.
            "data_source": population.source or ("local copy" if data_root is not None else meta.source),
            "highlighted": list(meta.highlighted),
        },
        "track": {"name": prepared.track, "overrides": overrides(prepared)},
        "defense": {"name": spec.defense, "params": dataclasses.asdict(defense),
                    "facts": measure.facts(trained.pop("facts"))},
        "recipe": dataclasses.asdict(setup.recipe),
        "precision": devices.precision(prepared.device),
        "utility": measure.utility(served_test, signals.test_labels, meta.names, meta.flagged_class),
        "citation": {"task": list(meta.citation), "defense": list(defense.citation)},
        "environment": record.environment(devices.hardware(prepared.device)),
        "config": setup.config(),
        "train_timings": trained,
    } | sizes(signals, plan, spec.seed)  # fmt: skip
    groups = api.subgroups(signals.labels, meta, population.subgroups)
    groups["outliers"] = outlier_mask(population.x, signals.labels)
    evidence = evidence_arrays(groups, served_test, signals.test_labels)
    records = []
    for i, attack in enumerate(prepared.attacks, 1):
        say(spec, f"{prefix}attack {attack.name} ({i} of {len(prepared.attacks)})…")
        oracle = oracles(setup, cache, trained["cache_key"], attack)
        outcome = attack_outcome(attack, observed, signals.labels, plan, spec.seed, groups,
                                 inputs=population.x, oracle=oracle)  # fmt: skip
        command = attack_command(prepared, attack.name)
        folder = None if spec.out is None else spec.out / attack.name
        records.append(finish(shared | {"command": command}, attack, outcome, folder, population.ids, evidence))
    if spec.out is not None and records:
        summary.write(spec.out, records)
    return records


def attack_command(prepared: Prepared, attack: str) -> str:
    """The command line a run's record of ``attack`` states: the run with that attack alone, its K and track."""
    spec = prepared.spec
    own = {name: values for name, values in spec.params.items() if name in (spec.task, spec.defense, attack)}
    return spec.replace(attacks=(attack,), params=own, models=prepared.models, track=prepared.track).command()


def score(signals, attacks, params: dict | None = None, seed: int = 0, out: Path | None = None):
    """Attack every model of a signals file (a path, a :class:`Signals`, or a dict of its arrays) in turn.

    ``attacks``: names, or ``["all"]`` for every attack the file supports (the others are skipped
    with a warning each). ``params`` gives each attack's parameters by name (``{"lira":
    {"fixed_variance": True}}``). With ``out``, each attack's record and scores go to
    ``out/<attack>/`` (``out`` itself for one attack). A file whose references give a target's
    memberships away (see :attr:`MembershipPlan.leak`) is refused.
    """
    attacks = [attacks] if isinstance(attacks, str) else list(attacks)
    every = attacks == [ALL]
    names = attack_registry.names() if every else attacks
    attack_objs = [attack_registry.create(name, (params or {}).get(name, {})) for name in names]
    if isinstance(signals, (str, Path)):
        source, signals = str(signals), Signals.load(signals)
        data_fingerprint = sha256_file(source)
    else:
        source = "signals arrays"
        signals = signals if isinstance(signals, Signals) else Signals(**signals)
        signals = signals.validate(source)
        data_fingerprint = fingerprint(signals.logits, signals.labels, signals.members)
    plan = MembershipPlan(signals.members)
    auxiliary = int((~plan.challenge).sum())
    leak = plan.leak
    if leak is not None:
        command = f"miabench plan --models {plan.num_models} --examples {plan.num_examples}"
        command += (f" --auxiliary {auxiliary}" if auxiliary else "") + " --seed 0 --out plan.npz"
        raise UserError(
            f"{source}: {leak}, which gives its memberships away; train the models by the plan '{command}' writes"
        )
    attack_objs, skipped = supported(attack_objs, plan.num_models, auxiliary, len(plan.references(0)), queries=False)
    if skipped and not every:
        raise UserError(skipped[0])
    for line in skipped:
        warnings.warn(f"skipped: {line}", stacklevel=2)
    warn_few_references(attack_objs, len(plan.references(0)))
    shared = {
        "task": {"name": None, "version": None, "params": {}, "model_family": None,
                 "data_fingerprint": data_fingerprint, "data_source": "signals file", "highlighted": []},
        "track": {"name": None, "overrides": {}},
        "defense": None,
        "recipe": None,
        "precision": None,
        "utility": measure.utility(signals.test_logits, signals.test_labels),
        "citation": {"task": [], "defense": []},
        "environment": record.environment({"device": "n/a (signals file)"}),
        "config": {"signals": data_fingerprint},
        "train_timings": {"cache_key": None, "cache_hit": None, "train_seconds": None, "strategy": None},
        "command": None,
    } | sizes(signals, plan, seed)  # fmt: skip
    groups = api.subgroups(signals.labels, classes=signals.shape[3])
    evidence = evidence_arrays(groups, signals.test_logits, signals.test_labels)
    records = []
    for attack in attack_objs:
        outcome = attack_outcome(attack, signals.logits, signals.labels, plan, seed, groups)
        folder = None if out is None else Path(out) / (attack.name if len(attack_objs) > 1 else "")
        records.append(finish(shared, attack, outcome, folder, np.arange(signals.shape[1]), evidence))
    return records


def sizes(signals: Signals, plan: MembershipPlan, seed: int) -> dict:
    """The record fields that describe the cube and the plan."""
    k, n, a, c = signals.shape
    return {
        "seed": seed,
        "models": k, "examples": n, "views": a, "classes": c,
        "auxiliary": int((~plan.challenge).sum()),
        "plan_hash": plan.hash, "plan_paired": plan.paired, "plan_leaks": plan.leaks,
    }  # fmt: skip


def attack_outcome(attack, logits, labels, plan: MembershipPlan, seed: int, groups: dict, **access) -> dict:
    """Scores, metrics and timing of one attack on every target of a cube.

    ``access`` may give the candidates' ``inputs`` and an ``oracle`` for attacks that query.
    """
    started = time.perf_counter()
    scored = scoring.leave_one_out(attack, logits, labels, plan, **access)
    seconds = time.perf_counter() - started
    outcome = measure.attack_metrics(scored.scores, scored.chosen, plan.members, groups, seed)
    outcome |= {"scored": scored, "queries": scored.queries, "attack_seconds": round(seconds, 3)}
    return outcome | {"members": plan.members, "labels": labels}


def evidence_arrays(groups: dict, served_test: np.ndarray | None, test_labels) -> dict:
    """What the scores file carries beside the scores so that validation can recompute the rest of the
    record: each subgroup's mask (``group:<name>`` [N]) and the served test predictions [K, M]."""
    arrays = {f"group:{name}": np.asarray(mask, dtype=bool) for name, mask in groups.items()}
    if served_test is not None:
        arrays |= {"test_predictions": served_test.argmax(-1).astype(np.int32), "test_labels": np.asarray(test_labels)}
    return arrays


def finish(shared: dict, attack, outcome: dict, out: Path | None, ids: np.ndarray, evidence: dict) -> record.Record:
    """The attack's record; with ``out``, written as ``out/result.json`` beside ``out/scores.npz``.

    The scores file holds each example's score per target (``scores`` [K, N]) with
    ``members`` [K, N], ``labels`` and stable ``ids`` [N], ``chosen`` [K, N] when the
    attack judged a subset, and the ``evidence_arrays``: enough to recompute every metric,
    the utility and the subgroup metrics, and to rank examples.
    """
    scored = outcome["scored"]
    arrays = {"scores": scored.scores.astype(np.float64), "members": outcome["members"].astype(bool)}
    arrays |= {"labels": outcome["labels"], "ids": ids, **evidence}
    if scored.chosen is not None:
        arrays["chosen"] = scored.chosen
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    data = buffer.getvalue()
    built = record.build(shared, attack, outcome, hashlib.sha256(data).hexdigest(), "scores.npz" if out else None)
    if out is not None:
        write_bytes(Path(out) / "scores.npz", data)
        record.write(Path(out) / "result.json", built)
    return built


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
