"""Published signal cubes: the board's own models as files, so a new attack is scored on them without training.

A cube folder (``miabench signals export RUN_DIR --out DIR``) holds one trained setting:

``signals.npz``
    the cube in the public format (:mod:`miabench.signals`): logits [K, N, A, C], labels, members, test logits
``plan.npz``
    the membership plan, as ``miabench plan`` writes it
``groups.npz``
    the examples' stable ``ids`` and each subgroup's mask (``group:<name>``), so scoring needs no data
``config.json``
    the configuration the cube's cache key hashes (task version, data fingerprint, defense, recipe, plan,
    seed, precision), the run's task and track, the defense's facts, and each file's sha256
``README.md``
    a Hugging Face dataset card: what the cube is, its schema, the data's license and citation

Folders are laid out as ``<track>/<task>/<defense>-<key[:12]>/`` (:func:`folder_of`), in a published
repo (:data:`REPO`, at the revision a task version pins: ``TaskMetadata.cubes_revision``) as in the
local store under the cache root, so ``miabench score --task T --defense D`` finds a setting's cube by
its cache key: locally, else on the Hub, else it says how to make it. A record scored from a cube has
the config hash of the run that trained it, and names the cube in its ``cube`` field (repository, revision,
folder, sha256 of signals.npz; :func:`of_record` finds it again, as ``leaderboard verify`` re-scores it) and
in words in ``task.data_source``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from miabench import citations, measure, record, runner
from miabench import device as devices
from miabench.atomic import save_npz, sha256_file, write_json
from miabench.cache import SignalsCache, config_hash
from miabench.errors import UserError
from miabench.harness import Setup
from miabench.params import route
from miabench.plan import MembershipPlan
from miabench.registry import attacks as attack_registry
from miabench.registry import defenses as defense_registry
from miabench.registry import tasks as task_registry
from miabench.signals import Signals
from miabench.spec import ALL, DEFAULT_DEFENSE, RunSpec, make

REPO = "miabench/signal-cubes"  # the published standard cubes (a Hub dataset repo)
FORMAT = 1  # of config.json
CHECKED = ("signals.npz", "plan.npz", "groups.npz")  # the files config.json holds the sha256 of
ORIGIN = "ORIGIN"  # where a pulled folder came from (repo, revision, path); never pushed
RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"  # the committed runs
# The Hub's license identifiers for the licenses tasks state; any other is "other", stated in the card.
HUB_LICENSES = {"MIT": "mit", "Apache-2.0": "apache-2.0", "CC BY 4.0": "cc-by-4.0", "CC BY-SA 3.0": "cc-by-sa-3.0",
                "CC BY-NC 4.0": "cc-by-nc-4.0"}  # fmt: skip


@dataclass
class Cube:
    """A cube folder, read and checked."""

    root: Path
    signals: Signals
    config: dict  # what the cache key hashes (harness.run_config)
    key: str
    run: dict  # the run's "task" and "track" record fields
    facts: dict  # the defense's facts per model, as training reported them
    groups: dict  # subgroup masks [N]
    ids: np.ndarray  # [N]
    source: str  # where the cube came from, as a record's task.data_source states it
    origin: dict  # the same as a record's ``cube`` field (record.CubeSource): repo, revision, path, sha256


def folder_of(track: str, task: str, config: dict, key: str) -> Path:
    """Where a setting's cube lives in a published repo and in the local store."""
    return Path(track) / task / f"{config['defense']['name']}-{key[:12]}"


def store(cache_dir: Path | None = None) -> Path:
    """The local store of cube folders: beside the signals cache."""
    return SignalsCache(cache_dir).root / "cubes"


def not_a_cube(folder: Path, problem: str) -> UserError:
    return UserError(f"{folder} is not a miabench cube folder ({problem}); export one with "
                     "'miabench signals export RUN_DIR --out DIR', or pull one with 'miabench signals pull'")  # fmt: skip


# --- export ------------------------------------------------------------------------------------


def export(run_dir: Path, out: Path, cache_dir: Path | None = None) -> Path:
    """Write the cube of the run in ``run_dir`` (its records, its cache entry) as a folder under ``out``."""
    from miabench.leaderboard.entries import run_records

    path, first = run_records(run_dir)[0]
    if first.task.name is None:
        raise UserError(f"{run_dir} scored a signals file: only runs of a registered task ('miabench run') export")
    config = {name: value for name, value in record.stated_config(first).items() if name != "attack"}
    key = config_hash(config)
    if key != first.timings.cache_key:
        raise UserError(f"{path}: its cache key is not that of its stated config: export the records as written")
    cache = SignalsCache(cache_dir)
    if cache.load(key) is None:
        raise UserError(f"the cube of {run_dir} ({key[:12]}…) is not in the cache {cache.root}: run "
                        f"'{first.scores_file.command}' again with that --cache-dir (it trains nothing it has)")  # fmt: skip
    scores = path.parent / "scores.npz"
    if not scores.is_file():
        raise UserError(f"{scores} is missing: export a run folder as 'miabench run' wrote it (with scores.npz)")
    with np.load(scores) as arrays:
        groups = {name: arrays[name] for name in arrays.files if name.startswith("group:")}
        ids = arrays["ids"]
    folder = Path(out) / folder_of(first.track.name, first.task.name, config, key)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cache.entry(key) / "signals.npz", folder / "signals.npz")
    plan = MembershipPlan.balanced(first.models, first.examples, first.seed, first.auxiliary)
    save_npz(folder / "plan.npz", members=plan.members, models=first.models, examples=first.examples,
             seed=first.seed, auxiliary=first.auxiliary)  # fmt: skip
    save_npz(folder / "groups.npz", ids=ids, **groups)
    run = {"task": first.task.model_dump(exclude={"data_source"}), "track": first.track.model_dump()}
    write_json(folder / "config.json", {
        "format": FORMAT, "miabench": first.miabench.version, "cache_key": key, "config": config, "run": run,
        "facts": cache.facts(key), "sha256": {name: sha256_file(folder / name) for name in CHECKED},
    })  # fmt: skip
    (folder / "README.md").write_text(card(load(folder)), encoding="utf-8")
    return folder


def card(cube: Cube) -> str:
    """The cube's dataset card: YAML front matter in the Hub's format, then what it is and how to score it."""
    from huggingface_hub import DatasetCardData

    import miabench

    config, task = cube.config, cube.run["task"]
    meta = task_registry.entry(task["name"]).component_class.metadata
    k, n, a, c = cube.signals.shape
    track, defense = cube.run["track"]["name"], config["defense"]["name"]
    hub_license = HUB_LICENSES.get(meta.license, "other")
    data = DatasetCardData(
        pretty_name=f"miabench signals cube: {task['name']} {task['version']}, defense {defense}, {track} track",
        license=hub_license, tags=["membership-inference", "privacy", "miabench", "signals-cube"],
        **({} if hub_license != "other" else {"license_name": re.sub(r"[^a-z0-9]+", "-", meta.license.lower()).strip("-")}),
    )  # fmt: skip
    folder = folder_of(track, task["name"], config, cube.key).as_posix()
    recipe = ", ".join(f"{name}={value}" for name, value in config["recipe"].items())
    bibtex = citations.bibtex(meta.citation, first=())
    return f"""---
{data.to_yaml()}
---
# miabench signals cube: {task["name"]} (defense {defense}, {track} track)

The outputs of {k} models of the miabench task `{task["name"]}` version {task["version"]} ({meta.description}),
trained under the defense `{defense}` on the {track} track, with the membership plan they were trained by.
Every score-based membership inference attack needs only this: score a new attack on the board's own
models without training any (miabench {miabench.__version__}).

## Schema

| file | array | shape | dtype | meaning |
|---|---|---|---|---|
| signals.npz | logits | [{k}, {n}, {a}, {c}] | float32 | model k's logits on population example n under view a |
| signals.npz | labels | [{n}] | int64 | each example's class |
| signals.npz | members | [{k}, {n}] | bool | whether model k trained on example n (the paired plan) |
| signals.npz | test_logits, test_labels | [{k}, M, {c}], [M] | float32, int64 | held-out examples: utility |
| plan.npz | members, models, examples, seed, auxiliary | [{k}, {n}] | bool | the plan, as `miabench plan` writes it |
| groups.npz | ids, group:NAME | [{n}] | int64, bool | stable example ids, and each subgroup's mask |
| config.json | | | | the configuration below, the cache key it hashes to, the files' sha256 |

## Configuration

- task `{task["name"]}` version {task["version"]}, model family `{config["model_family"]}`, data fingerprint `{config["data_fingerprint"]}`
- defense `{defense}` {json.dumps(config["defense"]["params"])}; recipe {recipe}
- K = {config["models"]} models, seed {config["seed"]}, precision {config["precision"]}, plan `{config["plan_hash"]}`
- track {track}; cache key `{cube.key}`

## Score it

```
pip install miabench
miabench signals pull --repo ORG/NAME --out cubes
miabench score --cube cubes/{folder} --attack my-attack --out results
miabench submit results --by "your name"
```

`miabench score --task {task["name"]} --defense {defense} --track {track} --attack my-attack` finds this cube
by name in the published repo. Its records carry the config hash of the board's rows for this setting.

## Data

The data is {meta.source}, license: {meta.license}. Cite its authors:

```bibtex
{bibtex.strip()}
```
"""


# --- reading and scoring -----------------------------------------------------------------------


def load(folder: Path) -> Cube:
    """The cube folder ``folder``, its files checked against config.json."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise not_a_cube(folder, f"config.json format {meta.get('format')!r}, this miabench reads {FORMAT}")
        key, config = meta["cache_key"], meta["config"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise not_a_cube(folder, f"no readable config.json: {error}") from None
    for name in CHECKED:
        if not (folder / name).is_file() or sha256_file(folder / name) != meta["sha256"].get(name):
            raise not_a_cube(folder, f"{name} is missing or not the file config.json names (sha256 differs)")
    if config_hash(config) != key:
        raise not_a_cube(folder, "config.json's config does not hash to its cache key: it was edited")
    signals = Signals.load(folder / "signals.npz")
    if MembershipPlan(signals.members).hash != config["plan_hash"]:
        raise not_a_cube(folder, "the cube's memberships are not the plan its config names")
    with np.load(folder / "groups.npz") as arrays:
        groups = {name.removeprefix("group:"): arrays[name] for name in arrays.files if name.startswith("group:")}
        ids = arrays["ids"]
    where = (folder / ORIGIN).read_text().strip() if (folder / ORIGIN).is_file() else f"local folder {folder}"
    sha256 = meta["sha256"]["signals.npz"]
    source = f"signals cube {where} (signals.npz sha256 {sha256})"
    pulled = re.fullmatch(r"hf://datasets/(?P<repo>[^@]+)@(?P<revision>[^/]+)/.+", where)
    path = folder_of(meta["run"]["track"]["name"], meta["run"]["task"]["name"], config, key).as_posix()
    repo, revision = (pulled["repo"], pulled["revision"]) if pulled else (None, None)
    origin = {"repo": repo, "revision": revision, "path": path, "sha256": sha256}
    return Cube(folder, signals, config, key, meta["run"], meta["facts"], groups, ids, source, origin)


def score(cube: Cube, attacks: list[str], params: dict | None = None, out: Path | None = None,
          defense: str | None = None) -> list[record.Record]:  # fmt: skip
    """Attack every model of ``cube`` as ``miabench run`` does, from the cube alone.

    ``defense`` (default: the one the cube trained under) may be a serving-side defense, which trained
    the same models; ``params`` gives parameters by component name. With ``out``, each attack's record
    and scores go to ``out/<attack>/`` (``out`` itself for one attack).
    """
    params = params or {}
    name = defense or cube.config["defense"]["name"]
    chosen = defense_registry.create(name, params.get(name, {}))
    if config_hash(chosen.training_config()) != config_hash(cube.config["defense"]):  # as the cache key compares
        raise UserError(f"defense '{name}' {params.get(name, {})} did not train the models of {cube.root} "
                        f"(they trained under {json.dumps(cube.config['defense'])}); give that defense")  # fmt: skip
    every = list(attacks) == [ALL]
    names = attack_registry.names() if every else list(attacks)
    attack_objs = [attack_registry.create(attack, params.get(attack, {})) for attack in names]
    signals, plan, seed = cube.signals, MembershipPlan(cube.signals.members), cube.config["seed"]
    auxiliary = int((~plan.challenge).sum())
    attack_objs, skipped = runner.supported(attack_objs, plan.num_models, auxiliary, queries=False)
    if skipped and not every:
        raise UserError(skipped[0])
    meta = task_registry.entry(cube.run["task"]["name"]).component_class.metadata
    every_model = np.arange(plan.num_models)
    chosen.fit_serving(signals.logits, signals.labels, plan.members)  # as the runner serves: once, first
    observed = chosen.observe(signals.logits, signals.labels, plan.members, every_model)
    served_test = chosen.observe(signals.test_logits[:, :, None], signals.test_labels, None, every_model)[:, :, 0]
    shared = {
        "task": {**cube.run["task"], "data_source": cube.source},
        "cube": cube.origin,
        "track": cube.run["track"],
        "defense": {"name": name, "params": dataclasses.asdict(chosen), "facts": measure.facts(cube.facts)},
        "recipe": cube.config["recipe"],
        "precision": cube.config["precision"],
        "utility": measure.utility(served_test, signals.test_labels, meta.names, meta.flagged_class),
        "citation": {"task": list(meta.citation), "defense": list(chosen.citation)},
        "environment": record.environment(devices.hardware(torch.device("cpu"))),
        "config": cube.config,
        "train_timings": {"cache_key": cube.key, "cache_hit": True, "train_seconds": 0.0, "strategy": None},
    } | runner.sizes(signals, plan, seed)
    evidence = runner.evidence_arrays(cube.groups, served_test, signals.test_labels)
    records = []
    for attack in attack_objs:
        outcome = runner.attack_outcome(attack, observed, signals.labels, plan, seed, cube.groups)
        folder = None if out is None else Path(out) / (attack.name if len(attack_objs) > 1 else "")  # as runner.score
        command = {"command": score_command(cube, name, params, attack.name)}
        records.append(runner.finish(shared | command, attack, outcome, folder, cube.ids, evidence))
    return records


def score_by(attacks: list[str], assignments: dict, out: Path | None, cube: Path | None = None,
             task: str | None = None, defense: str | None = None, track: str = "cpu", models: int | None = None,
             seed: int = 0, cache_dir: Path | None = None, repo: str | None = None, revision: str | None = None):  # fmt: skip
    """``miabench score --cube DIR`` or ``--task NAME``: the records of ``attacks`` on that cube.

    ``assignments`` are unrouted ``--param`` values (``lira.online=false``, ``epochs=1``)."""
    if task is not None:
        spec = make(assignments, task=task, attacks=attacks, defense=defense or DEFAULT_DEFENSE, models=models,
                    seed=seed, track=track, progress=False)  # fmt: skip
        return score(find(spec, cache_dir, repo or REPO, revision), spec.attacks, spec.params, out, spec.defense)
    found = load(cube)
    name = defense or found.config["defense"]["name"]
    names = attack_registry.names() if list(attacks) == [ALL] else attacks
    classes = {attack: attack_registry.entry(attack).component_class for attack in names}
    params = route(assignments, classes | {name: defense_registry.entry(name).component_class})
    return score(found, attacks, params, out, name)


def score_command(cube: Cube, defense: str, params: dict, attack: str) -> str:
    """The ``miabench score --task`` command that scores this cube's setting by name."""
    task = cube.run["task"]
    own = {task["name"]: task["params"], **{name: params[name] for name in (defense, attack) if name in params}}
    spec = RunSpec(task=task["name"], attacks=(attack,), defense=defense, params=own, models=cube.config["models"],
                   seed=cube.config["seed"], track=cube.run["track"]["name"])  # fmt: skip
    return shlex.join(["miabench", "score", *shlex.split(spec.command())[2:]])


# --- finding a setting's cube by name ------------------------------------------------------------


def setting_key(spec: RunSpec) -> tuple[dict, str, str]:
    """The config, cache key and track of the run ``spec`` describes, computed without data or training:
    the data is the task version's pinned copy."""
    prepared = runner.prepare(spec)
    task, track = prepared.task, prepared.track
    pin = prepared.reference_task.pinned_data(track)
    if pin is None:
        raise UserError(f"task '{spec.task}' pins no data on the {track} track, so its cubes cannot be named: "
                        "score a cube folder with 'miabench score --cube DIR'")  # fmt: skip
    auxiliary = round(task.auxiliary_fraction * pin.examples)
    plan = MembershipPlan.balanced(prepared.models, pin.examples, spec.seed, auxiliary)
    recipe = prepared.defense.training_recipe(task.recipe(track))
    population = SimpleNamespace(fingerprint=pin.fingerprint)  # all Setup.config reads of the data
    device = torch.device("cuda" if track == "gpu" else "cpu")  # the precision only; nothing runs here
    config = Setup(task, population, plan, prepared.defense, recipe, spec.seed, device).config()
    return config, config_hash(config), track


def find(spec: RunSpec, cache_dir: Path | None = None, repo: str = REPO, revision: str | None = None) -> Cube:
    """The cube of the setting ``spec`` names: in the local store, else pulled from ``repo`` at ``revision``
    (default: the task version's pin) into it, else a UserError saying how to make it."""
    config, key, track = setting_key(spec)
    relative = folder_of(track, spec.task, config, key)
    local = store(cache_dir) / relative
    meta = task_registry.entry(spec.task).component_class.metadata
    revision = revision or meta.cubes_revision
    if not (local / "config.json").is_file() and revision is not None:
        pull(repo, store(cache_dir), revision, relative.as_posix())
    if (local / "config.json").is_file():
        return load(local)
    setting = {name: values for name, values in spec.params.items() if name in (spec.task, spec.defense)}
    make = spec.replace(attacks=("loss",), params=setting, track=track).command()
    pinned = f"no revision of {repo} is pinned for task version {meta.version}"
    cache = f" --cache-dir {cache_dir}" if cache_dir is not None else ""
    raise UserError(f"no cube of this setting ({key[:12]}…) in {store(cache_dir)} and {pinned}: make it with "
                    f"'{make} --out RUN{cache}' then 'miabench signals export RUN --out {store(cache_dir)}{cache}'")  # fmt: skip


def of_record(stated: record.Record, cache_dir: Path | None = None) -> Cube:
    """The very cube ``stated`` was scored from (its ``cube`` field): in the local store when its signals.npz has
    the stated sha256, else pulled into the store from the repo at the revision it names; any other is refused."""
    source = stated.cube
    local = store(cache_dir) / source.path
    if (local / "signals.npz").is_file() and sha256_file(local / "signals.npz") == source.sha256:
        return same_setting(load(local), stated)
    if source.repo is None:
        raise UserError(f"the record was scored from a local cube folder (signals.npz sha256 {source.sha256[:12]}…) "
                        f"that {local} does not hold: copy that folder there to re-score it")  # fmt: skip
    where = f"{source.repo}@{source.revision}/{source.path}"
    (pulled,) = pull(source.repo, store(cache_dir), source.revision, source.path)
    found = load(pulled)
    if found.origin["sha256"] != source.sha256:
        raise UserError(f"the cube {where} has signals.npz sha256 {found.origin['sha256'][:12]}…, not the "
                        f"{source.sha256[:12]}… the record was scored from: it is another cube, so the record "
                        "cannot be re-scored from it (resubmit a record scored from the published cube)")  # fmt: skip
    return same_setting(found, stated)


def same_setting(cube: Cube, stated: record.Record) -> Cube:
    if cube.key != stated.timings.cache_key:
        raise UserError(f"the cube {cube.root} is of the setting {cube.key[:12]}…, not the record's "
                        f"{str(stated.timings.cache_key)[:12]}…: its config.json is another setting's")  # fmt: skip
    return cube


# --- the standard cubes and the Hub ------------------------------------------------------------------


def standard(out: Path, results: Path = RESULTS_DIR, data_dir: Path | None = None,
             cache_dir: Path | None = None) -> list[Path]:  # fmt: skip
    """Export the cube of every committed CPU-track run of a current task version under ``out``, ready to push.

    Each distinct cube is made again through the cache (trained only where it holds nothing) by its run
    with the cheapest attack, then exported."""
    chosen = {}
    for path in sorted(Path(results).glob("cpu/**/result.json")):
        stated = record.read(path)
        current = task_registry.entry(stated.task.name).component_class.metadata.version if stated.task.name else None
        if stated.track.name == "cpu" and stated.task.version == current:
            chosen.setdefault(stated.timings.cache_key, stated)
    written = []
    for stated in chosen.values():
        spec = RunSpec.from_record(stated, data_dir=data_dir, cache_dir=cache_dir, progress=False)
        spec = spec.replace(attacks=("loss",), params={k: v for k, v in spec.params.items() if k != stated.attack.name})
        with tempfile.TemporaryDirectory() as scratch:
            runner.run(spec.replace(out=Path(scratch)))
            written.append(export(Path(scratch), out, cache_dir))
    return written


def folders(root: Path) -> list[Path]:
    """The cube folders under ``root`` (or ``root`` itself)."""
    return sorted(path.parent for path in Path(root).rglob("config.json"))


def push(root: Path, repo_id: str, create_pr: bool = False, api=None) -> str:
    """Upload the cube folders under ``root`` to the dataset repo ``repo_id`` in one commit; return its URL."""
    from huggingface_hub import CommitOperationAdd, HfApi

    from miabench.leaderboard import hub

    root = Path(root)
    found = folders(root)
    for folder in found:
        load(folder)  # a damaged or edited cube is refused before anything is sent
    if not found:
        raise UserError(f"no cube folders under {root}: export one first ('miabench signals export RUN_DIR --out DIR')")
    base = root if root not in found else root.parent
    files = sorted(path for folder in found for path in folder.iterdir() if path.is_file() and path.name != ORIGIN)
    operations = [CommitOperationAdd(path.relative_to(base).as_posix(), str(path)) for path in files]
    return hub.commit(api or HfApi(), repo_id, operations, f"miabench signal cubes: {len(found)} cubes", create_pr)


def pull(repo_id: str, out: Path, revision: str | None = None, path: str | None = None) -> list[Path]:
    """Download the cube folders of ``repo_id`` (those under ``path`` only, if given) into ``out``, checked."""
    from miabench.leaderboard import hub

    local = hub.download(repo_id, [f"{path}/*"] if path else None, revision)
    commit = local.name if re.fullmatch(r"[0-9a-f]{40}", local.name) else revision or "main"  # the Hub's snapshot
    found = folders(local)
    if not found:
        raise UserError(f"{repo_id}{'@' + revision if revision else ''} holds no cube folder"
                        f"{' at ' + path if path else ''}: check the repo, revision and setting")  # fmt: skip
    written = []
    for folder in found:
        relative = folder.relative_to(local)
        target = Path(out) / relative
        shutil.copytree(folder, target, dirs_exist_ok=True)
        (target / ORIGIN).write_text(f"hf://datasets/{repo_id}@{commit}/{relative.as_posix()}\n")
        load(target)  # checked on arrival
        written.append(target)
    return written
