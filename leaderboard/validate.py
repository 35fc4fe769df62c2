"""Validation of leaderboard entries: an entry cannot claim numbers its scores do not give.

An entry is first checked against the record schema (every field, every type); then each
check returns the problems it finds as lines, and an entry is valid when none does. Checks
need no data and no training: the config hash is recomputed from the config the record
states, the plan from its sizes and seed, the aggregated metrics from the per-target
metrics, and, when the per-example scores file is at hand, every metric from the scores and
the plan's memberships.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from miabench import record as records
from miabench.atomic import sha256_file
from miabench.cache import config_hash
from miabench.errors import UserError
from miabench.measure import measure
from miabench.metrics import aggregate
from miabench.plan import MembershipPlan
from miabench.record import Entry, Record
from miabench.registry import tasks

OFFICIAL_SEEDS = (0, 1, 2)


def config(record: Record) -> list[str]:
    try:
        recomputed = config_hash(records.stated_config(record))
    except UserError as error:  # an unknown defense
        return [str(error)]
    if recomputed != record.config_hash:
        stated = record.config_hash[:12]
        return [
            f"config_hash {stated}… is not the hash of the stated config ({recomputed[:12]}…): submit the record as written"
        ]
    return []


def task_definition(record: Record) -> list[str]:
    name, version = record.task.name, record.task.version
    try:
        current = tasks.entry(name).component_class.metadata.version
    except UserError as error:
        return [str(error)]
    if version != current:
        return [f"task '{name}' version {version} is superseded by {current}: re-run on the current task"]
    return []


def the_plan(record: Record) -> MembershipPlan:
    return MembershipPlan.balanced(record.models, record.examples, record.seed, record.auxiliary)


def plan(record: Record) -> list[str]:
    expected = the_plan(record).hash
    if expected != record.plan_hash:
        sizes = f"K={record.models}, N={record.examples}, seed {record.seed}"
        return [
            f"plan_hash {record.plan_hash[:12]}… is not the plan of {sizes} ({expected[:12]}…): use the harness's plan"
        ]
    return []


def seeds(record: Record) -> list[str]:
    if record.seed not in OFFICIAL_SEEDS:
        return [f"seed {record.seed} is not an official seed {OFFICIAL_SEEDS}: re-run with --seed 0, 1 or 2"]
    return []


def as_json(value) -> object:
    return json.loads(json.dumps(records.json_safe(value)))


def same_metrics(recomputed: dict, stated) -> bool:
    """The stated metrics (a Metrics object) equal the recomputed ones."""
    return as_json(recomputed) == as_json(stated.model_dump())


def aggregated_metrics(record: Record) -> list[str]:
    """The headline metrics must be the aggregate of the per-target metrics (catches an edited number)."""
    per_target = [target.model_dump(exclude={"target"}) for target in record.per_target]
    recomputed = aggregate(per_target, seed=record.seed) | {"targets": record.metrics.targets}
    if not same_metrics(recomputed | {"examples": record.metrics.examples}, record.metrics):
        return ["metrics are not the aggregate of per_target: a number was edited; submit the record as written"]
    return []


def scores(record: Record, scores_path: Path) -> list[str]:
    """Every headline metric recomputed from the per-example scores and the plan's memberships."""
    if sha256_file(scores_path) != record.scores_file.sha256:
        return [f"{scores_path} is not the scores file the record names (sha256 differs): submit them together"]
    with np.load(scores_path) as arrays:
        members = the_plan(record).members
        if not np.array_equal(arrays["members"], members):
            return [f"{scores_path}: its memberships are not the plan's: the scores come from another run"]
        chosen = arrays["chosen"] if "chosen" in arrays.files else None
        recomputed, _ = measure(arrays["scores"], members, record.seed, chosen)
    if not same_metrics(recomputed, record.metrics):
        return [f"metrics differ from those recomputed from {scores_path.name}: the record's numbers were edited"]
    return []


def validate(entry: dict | Record, scores_path: Path | None = None) -> list[str]:
    """Every problem of one entry (or bare record), one line each; empty when it is valid."""
    data = entry.model_dump() if isinstance(entry, Record) else entry
    schema = Entry if "provenance" in data else Record
    if data.get("schema_version") != records.SCHEMA_VERSION:
        stated = data.get("schema_version")
        return [f"schema_version {stated!r} is not {records.SCHEMA_VERSION}: run 'miabench upgrade' on it"]
    problems = records.problems(data, schema)
    if problems:
        return problems
    record = schema.model_validate(data)
    if record.task.name is None:
        return ["a signals-file record names no task: the leaderboard ranks runs of registered tasks"]
    for check in (config, task_definition, plan, seeds, aggregated_metrics):
        problems += check(record)
    if scores_path is not None and Path(scores_path).is_file():
        problems += scores(record, Path(scores_path))
    return problems


def validate_file(path: Path, scores_path: Path | None = None) -> list[str]:
    """The problems of the entry stored at ``path`` (unreadable JSON is one)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        return [f"not a readable JSON entry ({error}); restore it from git or submit the run again"]
    return validate(data, scores_path)
