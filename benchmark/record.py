"""The result record: its typed schema (``schema_version: 2``), its builder, and the upgrade from v1.

This module is the only place a record's fields are named. A record is one attack on the K
models of one run (or of a signals file): what was run (task, track, defense, attack, recipe,
seed, sizes, plan and config hashes), where (versions, git commit, environment), and what came
out (metrics with confidence intervals, per target and per subgroup, utility, timings, the
checksum of the per-example scores and the command that regenerates them). ``Record`` validates
types strictly (an edited ``"0.9"`` for a number fails), and ``Entry`` is a record on the
leaderboard, with its provenance and mean ROC.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import platform
import subprocess
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError, model_serializer

from miabench import citations
from miabench.api import ACCESS_LEVELS, Recipe
from miabench.atomic import write_json
from miabench.cache import config_hash
from miabench.errors import UserError

SCHEMA_VERSION = 2


def _finite_or_text(value):
    """JSON holds no infinity: thresholds are written as "inf" (json_safe) and read back here."""
    return float(value) if value in ("inf", "-inf") else value


def _recipe(value):
    """A recipe is a dict in JSON; Recipe's own declarations check its fields."""
    if not isinstance(value, dict):
        return value
    try:
        return Recipe(**value)
    except (TypeError, UserError) as error:
        raise ValueError(str(error)) from None


Threshold = Annotated[float, BeforeValidator(_finite_or_text)]
RecipeField = Annotated[Recipe, BeforeValidator(_recipe), PlainSerializer(Recipe.config)]  # as hashes state it
Interval = Annotated[list[float], Field(min_length=2, max_length=2)]


class Schema(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    # Fields added after records were first hashed: left out of the dump at their default, so that every
    # earlier record and entry dumps (and hashes, for the ledger) as written.
    STATED_WHEN_SET: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _stated_when_set(self, handler):
        data = handler(self)
        for name in self.STATED_WHEN_SET:
            if name in data and data[name] == type(self).model_fields[name].default:
                del data[name]
        return data


class Software(Schema):
    version: str
    commit: str | None  # the git commit of the source tree, when it is a checkout
    dirty: bool | None  # whether the code differed from that commit


class TaskInfo(Schema):
    name: str | None  # None: a signals file, not a registered task
    version: str | None
    params: dict[str, Any]
    model_family: str | None
    data_fingerprint: str  # sha256 of the loaded data (or of the signals file)
    data_source: str | None  # which copy: "local copy", the public source, a named source, "signals file"
    highlighted: list[str]  # subgroups reported beside the overall numbers


class Track(Schema):
    name: Literal["cpu", "gpu"] | None  # None: a signals file
    overrides: dict[str, Any]  # what the run changed of its track: task parameters, models


class Facts(Schema):
    mean: float
    std: float
    per_model: list[float]


class DefenseInfo(Schema):
    name: str
    params: dict[str, Any]
    facts: dict[str, Facts]  # what the defense reports per model, e.g. the accountant's epsilon


class ThreatModelInfo(Schema):
    access: Literal[ACCESS_LEVELS]
    min_references: int
    online: bool
    auxiliary: bool
    queries: int  # the query budget beyond the signals cube (0: none)
    # Added after records were first hashed, so each is stated only when set (earlier records dump as written).
    partner: bool = False  # sees the target's pair partner's outputs (never its membership)
    fixed_model: int | None = None  # sees this one model's outputs for every target (e.g. a fixed selector)
    STATED_WHEN_SET = ("partner", "fixed_model")


class Package(Schema):
    name: str  # the distribution, as pip names it
    version: str


class AttackInfo(Schema):
    name: str
    params: dict[str, Any]
    threat_model: ThreatModelInfo
    queries: int  # queries the targets answered beyond the signals cube, over all targets
    # The package that installed a third-party attack (a ``miabench.attacks`` entry point); a built-in has none.
    # Added after records were first hashed, so stated only when set (earlier records dump as written).
    package: Package | None = None
    STATED_WHEN_SET = ("package",)


class Summary(Schema):
    mean: float
    std: float
    ci95: Interval  # percentile-bootstrap 95% CI of the mean over targets


class TprSummary(Summary):
    realised_fpr: float  # mean over targets of the FPR actually attained (at most the level)
    n_nonmembers: int  # the fewest non-members of any target: the FPR grid's coarseness


class Metrics(Schema):
    auc: Summary
    balanced_accuracy: Summary
    advantage: Summary
    tpr_at_fpr: dict[str, TprSummary]  # keyed by the FPR level, "0.001" ... "0.1"
    targets: int  # targets on which the metrics are defined
    examples: float  # examples judged per target, on average
    # What the CIs resample: targets, or the pairs of models of a paired plan (which share references).
    # Stated only for pairs: a record without it resampled targets, as every record before the unit did.
    ci_unit: Literal["targets", "pairs"] = "targets"
    STATED_WHEN_SET = ("ci_unit",)


class TargetTpr(Schema):
    tpr: float
    realised_fpr: float
    threshold: Threshold
    n_nonmembers: int


class TargetMetrics(Schema):
    target: int
    auc: float
    balanced_accuracy: float
    advantage: float
    tpr_at_fpr: dict[str, TargetTpr]


class Chosen(Schema):
    members: int  # of the target's members among the candidates an attack chose
    non_members: int


class TargetSelection(Chosen):
    """What an attack that judged a subset chose for one target, in all and per class (``class:<name>``)."""

    target: int
    by_class: dict[str, Chosen]  # the classes it chose any candidate of


class Spread(Schema):
    mean: float
    std: float


class Utility(Schema):
    test_accuracy: Spread
    balanced_accuracy: Spread | None
    recall: dict[str, Spread | None]  # each class's recall ("class:<name>"), and "flagged"
    # Each model's lowest class recall (measure.utility_of_predictions). Added after records were first hashed,
    # so stated only when set (earlier records dump, and hash, as written).
    worst_class_recall: Spread | None = None
    STATED_WHEN_SET = ("worst_class_recall",)


class Audit(Schema):
    """The empirical privacy audit (:mod:`miabench.audit`): the epsilon an attack's TPR and FPR imply at least."""

    epsilon_lower_bound: float  # holds with probability `confidence` (Clopper–Pearson, a union bound over levels)
    operating_point: str | None  # where the largest bound was reached, e.g. "fpr <= 0.01"; None: no bound above 0
    delta: float  # the delta of the bound: the defense's (DP-SGD's), else 0
    confidence: float
    levels: list[float]  # the FPR (and FNR) levels its thresholds were chosen at, fixed in advance


class Environment(Schema):
    python: str
    torch: str
    numpy: str
    platform: str
    device: str
    cpu: str | None = None
    threads: int | None = None
    gpu: str | None = None
    gpu_memory_gib: float | None = None
    compute_capability: str | None = None
    driver: str | None = None
    cuda: str | None = None
    cudnn: int | None = None
    fingerprint: str | None  # a short hash of the fields above


class Timings(Schema):
    cache_key: str | None
    cache_hit: bool | None
    train_seconds: float | None
    strategy: str | None  # how the models trained together (None: from the cache)
    attack_seconds: float


class ScoresFile(Schema):
    path: str | None  # beside the record; None when it was not written
    sha256: str
    command: str | None  # the command that regenerates it


class CubeSource(Schema):
    """The signal cube a record was scored from (:mod:`miabench.cubes`), so that it is re-scored from the same one."""

    repo: str | None  # the Hub dataset repo it was pulled from; None: a local cube folder
    revision: str | None  # the repo's commit it was pulled at
    path: str  # its folder in the repo and in the local store: <track>/<task>/<defense>-<cache key[:12]>
    sha256: str  # of its signals.npz


class Citation(Schema):
    task: list[str]  # keys of miabench.citations
    attack: list[str]
    defense: list[str]


class Record(Schema):
    schema_version: Literal[2]
    miabench: Software
    created: str
    task: TaskInfo
    track: Track
    defense: DefenseInfo | None  # None: a signals file
    attack: AttackInfo
    recipe: RecipeField | None
    seed: int
    models: int
    examples: int
    views: int
    classes: int
    auxiliary: int
    plan_hash: str
    plan_paired: bool
    plan_leaks: bool  # whether the references' memberships reveal a target's (see MembershipPlan.leaks)
    precision: Literal["fp32", "bf16"] | None
    config_hash: str
    environment: Environment
    utility: Utility | None
    citation: Citation
    metrics: Metrics
    metrics_by_subgroup: dict[str, Metrics | None] | None  # None: not computed (records upgraded from v1)
    base_metrics: Metrics | None  # for an attack that judged a subset: the same scores on all candidates
    amplification: dict[str, float | None] | None  # metrics' TPR over base_metrics' TPR, per FPR level
    per_target: list[TargetMetrics]
    timings: Timings
    scores_file: ScoresFile
    # Added after records were first hashed, so each is stated only when set (earlier records dump as written):
    # for an attack that judged a subset, its composition per target; and what the numbers cannot say.
    selection: list[TargetSelection] | None = None
    caveats: list[str] = []
    cube: CubeSource | None = None  # the signal cube it was scored from; None: the run trained (or cached) its models
    audit: Audit | None = None  # the epsilon lower bound its scores imply (miabench.audit)
    STATED_WHEN_SET = ("selection", "caveats", "cube", "audit")

    def summary(self) -> dict:
        """The headline metrics as one flat row (what ``Results.frame()`` shows)."""
        row = {"task": self.task.name, "defense": self.defense.name if self.defense else None}
        row |= {"attack": self.attack.name, "K": self.models, "seed": self.seed, "auc": self.metrics.auc.mean}
        row |= {f"tpr@{float(level) * 100:g}%fpr": tpr.mean for level, tpr in self.metrics.tpr_at_fpr.items()}
        row["test_accuracy"] = self.utility.test_accuracy.mean if self.utility else None
        return row

    def to_json(self) -> dict:
        return json_safe(self.model_dump())


class Submission(Schema):
    """One submission of an entry's configuration: who, when, from which commit, and the record's hash."""

    submitted_by: str
    submitted: str
    commit: str | None
    sha256: str  # of the entry as submitted (leaderboard.ledger.content_sha256)


class Provenance(Schema):
    """Who submitted the entry, and the earlier submissions it replaced. Whether it is verified is not
    the entry's to say: the maintainers' ledger (leaderboard/verified.json) holds that."""

    submitted_by: str
    submitted: str
    commit: str | None
    scores_url: str | None
    history: list[Submission] = []  # earlier submissions of this configuration, oldest first


class Roc(Schema):
    fpr: list[float]
    tpr: list[float]


class Entry(Record):
    """A leaderboard entry: the record exactly as written, its provenance and its mean ROC."""

    provenance: Provenance
    roc: Roc | None

    @property
    def record(self) -> Record:
        return Record.model_validate(self.model_dump(exclude={"provenance", "roc"}))


def problems(data: dict, schema: type[Schema] = Record) -> list[str]:
    """Every way ``data`` departs from the schema, one line each (empty when it conforms)."""
    try:
        schema.model_validate(data)
    except ValidationError as error:
        return [f"{'.'.join(map(str, item['loc'])) or 'record'}: {item['msg']}" for item in error.errors()]
    return []


def parse(data: dict, source: str = "record", schema: type[Schema] = Record):
    """``data`` as a validated ``schema`` object, or a one-line UserError naming the first problem."""
    found = problems(data, schema)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise UserError(f"{source} is not a valid schema-{SCHEMA_VERSION} record: {found[0]}{more}; "
                        "write it with this miabench, or run 'miabench upgrade' on a v1 record")  # fmt: skip
    return schema.model_validate(data)


def json_safe(value):
    """Replace non-finite floats (e.g. an infinite threshold) with strings JSON can hold."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


# --- building ----------------------------------------------------------------------------------


def git_revision() -> dict:
    """The commit of the source tree miabench runs from, when it is a git checkout."""
    here = Path(__file__).resolve().parent

    def git(*args):
        return subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=10, check=True)

    try:
        # Result records written under results/ are outputs, not code: they do not make a run dirty.
        commit, status = git("rev-parse", "HEAD"), git("status", "--porcelain", "--", ":/", ":(top,exclude)results")
    except (OSError, subprocess.SubprocessError):  # not a checkout, or no git
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def environment(hardware: dict) -> dict:
    """Software versions and ``hardware`` (device.hardware), with a short hash of both: the environment fingerprint."""
    import torch

    facts = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        **hardware,
    }
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()
    return facts | {"fingerprint": digest[:16]}


def header() -> dict:
    import miabench

    return {
        "schema_version": SCHEMA_VERSION,
        "miabench": {"version": miabench.__version__, **git_revision()},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def attack_info(attack, queries: int) -> dict:
    from miabench.registry import attacks

    try:
        package = attacks.package(attack.name)
    except UserError:  # an attack object the registry does not know (built in a test): no package
        package = None
    threat = attack.threat_model()
    threat_model = {"access": threat.access, "min_references": threat.min_references, "online": threat.online,
                    "auxiliary": threat.auxiliary, "queries": int(threat.queries)}  # fmt: skip
    threat_model |= {"partner": True} if threat.partner else {}
    threat_model |= {"fixed_model": int(threat.fixed_model)} if threat.fixed_model is not None else {}
    return {
        "name": attack.name,
        "params": dataclasses.asdict(attack),
        "threat_model": threat_model,
        "queries": int(queries),
        **({"package": {"name": package[0], "version": package[1]}} if package else {}),
    }


def build(run: dict, attack, outcome: dict, scores_sha256: str, scores_path: str | None) -> Record:
    """The record of one attack: ``run`` holds the fields every attack of the run shares (see
    ``runner``), ``outcome`` what the attack gave (its metric fields, queries, seconds)."""
    fields = ("metrics", "metrics_by_subgroup", "base_metrics", "amplification", "per_target")
    data = {
        **header(),
        **{key: value for key, value in run.items() if key not in ("config", "command", "train_timings")},
        "attack": attack_info(attack, outcome["queries"]),
        "citation": {**run["citation"], "attack": list(attack.citation)},
        "config_hash": config_hash(
            {**run["config"], "attack": {"name": attack.name, "params": dataclasses.asdict(attack)}}
        ),
        **{key: outcome.get(key) for key in fields},
        "timings": {**run["train_timings"], "attack_seconds": outcome["attack_seconds"]},
        "scores_file": {"path": scores_path, "sha256": scores_sha256, "command": run["command"]},
    }
    scored = outcome.get("scored")
    if getattr(scored, "chosen", None) is not None:
        from miabench.scoring import composition

        names = class_names(run["task"]["name"], run["classes"])
        data["selection"] = composition(scored.chosen, outcome["members"], outcome["labels"], names)
    data["caveats"] = caveats(run)
    if scored is not None:
        from miabench import audit

        delta = audit.delta_of(run.get("defense"))
        data["audit"] = audit.audit(scored.scores, outcome["members"], getattr(scored, "chosen", None), delta)
    return parse(json_safe(data), f"the record of attack '{attack.name}'")


SINGLE_PAIR = (
    "one pair of models (K = 2, each the other's partner): every number is of this single pair and has no "
    "confidence interval (the ci95 resamples the one pair, so it only repeats the mean); raise --models for CIs"
)


def caveats(run: dict) -> list[str]:
    """What a run's numbers cannot say, one line each (stated in the record)."""
    return [SINGLE_PAIR] if run.get("models") == 2 else []


def class_names(task: str | None, classes: int) -> list[str]:
    """The names a task gives its classes (``class:<name>`` subgroups), or their indices."""
    from miabench.registry import tasks

    try:
        names = list(tasks.entry(task).component_class.metadata.names) if task is not None else []
    except UserError:  # a task this install does not know
        names = []
    return names if len(names) == classes else [str(c) for c in range(classes)]


def stated_config(record: Record) -> dict:
    """The configuration a record states, as the run hashed it (cache key config plus the attack)."""
    from miabench.harness import run_config
    from miabench.registry import defenses

    attack = {"name": record.attack.name, "params": record.attack.params}
    if record.task.name is None:  # a signals file
        return {"signals": record.task.data_fingerprint, "attack": attack}
    defense = defenses.create(record.defense.name, record.defense.params).training_config()
    task = record.task.model_dump(include={"name", "version", "params", "model_family", "data_fingerprint"})
    config = run_config(task, defense, record.recipe.config(), record.plan_hash, record.models, record.seed,
                        record.precision)  # fmt: skip
    return {**config, "attack": attack}


# --- reading, writing, upgrading ---------------------------------------------------------------


def read(path: Path, schema: type[Schema] = Record):
    """The record (or entry) in a JSON file; v1 files are upgraded on the way in."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: not a readable JSON record ({error}); write it again with 'miabench run'") from None
    return parse(upgrade(data), str(path), schema)


def write(path: Path, record: Schema) -> Path:
    write_json(Path(path), json_safe(record.model_dump()))
    return Path(path)


def upgrade(data: dict) -> dict:
    """A v1 record or entry as schema v2 (a v2 one is returned as it is).

    What v1 did not record is derived where it is determined (the track and precision from the
    device, the recipe's later fields at their defaults, citation keys from the BibTeX, the
    examples judged from the plan's sizes) and left None where it is not (a subgroup table, the
    data's source). The config hash is recomputed over the completed config.
    """
    if data.get("schema_version") == SCHEMA_VERSION:
        return data
    if data.get("schema_version") != 1:
        raise UserError(f"schema_version {data.get('schema_version')!r} is not 1 or 2: not a miabench record")
    old = json.loads(json.dumps(data))  # a deep copy
    signals_file = old["task"].get("name") is None
    device = old["environment"].get("device", "cpu")
    task = old["task"]
    new = {
        "schema_version": SCHEMA_VERSION,
        "miabench": old["miabench"],
        "created": old["created"],
        "task": {
            "name": task.get("name"),
            "version": task.get("version"),
            "params": task.get("params", {}),
            "model_family": task.get("model_family"),
            "data_fingerprint": task["data_fingerprint"],
            "data_source": task.get("data_source") or task.get("source"),
            "highlighted": [] if signals_file else list(_highlighted(task["name"])),
        },
        "track": {
            "name": None
            if signals_file
            else (old.get("profile") or {}).get("name", "cpu" if device == "cpu" else "gpu"),
            "overrides": (old.get("profile") or {}).get("overrides", {}),
        },
        "defense": None if old.get("defense") is None else {"facts": {}, **old["defense"]},
        "attack": {**old["attack"], "threat_model": _threat_model(old["attack"])},
        "recipe": None if old.get("recipe") is None else dataclasses.asdict(Recipe(**old["recipe"])),
        "precision": None if signals_file else old.get("precision", "fp32" if device == "cpu" else "bf16"),
        "plan_leaks": old.get("plan_leaks", False),
        "environment": {"cpu": None, "threads": None, "fingerprint": None, **old["environment"]},
        "utility": None if old.get("utility") is None else {"balanced_accuracy": None, "recall": {}, **old["utility"]},
        "citation": {field: _keys((old.get("citation") or {}).get(field)) for field in ("task", "attack", "defense")},
        "metrics": _completed(old["metrics"], old),
        "metrics_by_subgroup": old.get("metrics_by_subgroup"),
        "base_metrics": old.get("base_metrics"),
        "amplification": old.get("amplification"),
        "timings": {"cache_key": None, "cache_hit": None, "train_seconds": None, "strategy": None, **old["timings"]},
    }
    for key in ("seed", "models", "examples", "views", "classes", "auxiliary", "plan_hash", "plan_paired"):
        new[key] = old[key]
    # The oldest records list every target in order, without its index.
    new["per_target"] = [{"target": k, **target} for k, target in enumerate(old["per_target"])]
    if "provenance" in old:  # an entry's; its verification, if any, is the ledger's to hold now
        stated = old["provenance"]
        new["provenance"] = {key: stated.get(key) for key in ("submitted_by", "submitted", "commit", "scores_url")}
        new["provenance"]["history"] = []
    if "roc" in old:
        new["roc"] = old["roc"]
    record = Record.model_validate({**_record_fields(new), "config_hash": "", "scores_file": _scores(old)})
    new["config_hash"] = config_hash(stated_config(record))
    spec = None if signals_file else _command(record)
    new["scores_file"] = {**_scores(old), "command": spec}
    return new


def _keys(bibtex: str | None) -> list[str]:
    return [key for key, _ in citations.split(bibtex or "")]


def _record_fields(data: dict) -> dict:
    return {key: value for key, value in data.items() if key in Record.model_fields}


def _scores(old: dict) -> dict:
    return {"path": old["scores_file"].get("path"), "sha256": old["scores_file"]["sha256"], "command": None}


def _command(record: Record) -> str:
    from miabench.spec import RunSpec

    return RunSpec.from_record(record).command()


def _highlighted(task: str) -> tuple[str, ...]:
    from miabench.registry import tasks

    try:
        return tasks.entry(task).component_class.metadata.highlighted
    except UserError:  # a task this install does not know
        return ()


def _threat_model(attack: dict) -> dict:
    stated = attack["threat_model"]
    return {"auxiliary": False, **stated, "queries": int(stated.get("queries", 0))}


def _completed(metrics: dict, old: dict) -> dict:
    """v1 metrics from before ``targets`` and ``examples``: every target judged every challenge example."""
    return {"targets": len(old["per_target"]), "examples": float(old["examples"] - old["auxiliary"]), **metrics}


def upgrade_files(paths: list[Path]) -> list[Path]:
    """Rewrite every v1 record or entry under ``paths`` (files or folders) as v2, in place.

    An entry file named by its v1 id (``<attack>--<defense>--<config hash>``) is renamed to its
    v2 id, since the upgrade recomputes the config hash.
    """
    files = [file for path in map(Path, paths) for file in (sorted(path.rglob("*.json")) if path.is_dir() else [path])]
    written = []
    for file in files:
        data = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("schema_version") == SCHEMA_VERSION or "schema_version" not in data:
            continue
        new = upgrade(data)
        schema = Entry if "provenance" in new else Record
        target = file
        if schema is Entry and file.stem == _entry_id(data):
            target = file.with_name(f"{_entry_id(new)}.json")
        write(target, parse(new, str(file), schema))
        if target != file:
            file.unlink()
        written.append(target)
    return written


def _entry_id(data: dict) -> str:
    return f"{data['attack']['name']}--{data['defense']['name']}--{data['config_hash'][:12]}"
