"""Validation of leaderboard entries: an entry cannot claim numbers its scores do not give.

Each check returns the problems it finds as lines; an entry is valid when none does.
Checks need no data and no training: the config hash is recomputed from the config
the record states, the plan from its sizes and seed, the aggregated metrics from the
per-target metrics, and, when the per-example scores file is at hand, every metric
from the scores and the plan's memberships.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from miabench import results
from miabench.atomic import sha256_file
from miabench.cache import config_hash
from miabench.errors import UserError
from miabench.harness import run_config
from miabench.leaderboard.entries import STATUSES, record_of
from miabench.metrics import aggregate
from miabench.plan import MembershipPlan
from miabench.registry import defenses, tasks

OFFICIAL_SEEDS = (0, 1, 2)
REQUIRED = ("schema_version", "miabench", "task", "defense", "attack", "recipe", "seed", "models", "examples",
            "plan_hash", "auxiliary", "metrics", "per_target", "config_hash", "utility", "environment")  # fmt: skip


def schema(record: dict) -> list[str]:
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        return [f"missing fields {', '.join(missing)}: submit the record as 'miabench run' wrote it"]
    if record["schema_version"] != results.SCHEMA_VERSION:
        return [f"schema_version {record['schema_version']} is not {results.SCHEMA_VERSION}: re-run with this miabench"]
    return []


def stated_config(record: dict) -> dict:
    """The configuration the record states, as the harness hashed it (``harness.Setup.config`` plus the attack)."""
    defense = defenses.create(record["defense"]["name"], record["defense"]["params"]).training_config()
    gpu = record["environment"].get("device", "cpu") != "cpu"
    precision = record.get("precision", "bf16" if gpu else "fp32")  # records before the field: by device
    config = run_config(record["task"], defense, record["recipe"], record["plan_hash"], record["models"],
                        record["seed"], precision)  # fmt: skip
    return {**config, "attack": {key: record["attack"][key] for key in ("name", "params")}}


def config(record: dict) -> list[str]:
    try:
        recomputed = config_hash(stated_config(record))
    except UserError as error:  # an unknown defense
        return [str(error)]
    if recomputed != record["config_hash"]:
        stated = record["config_hash"][:12]
        return [
            f"config_hash {stated}… is not the hash of the stated config ({recomputed[:12]}…): submit the record as written"
        ]
    return []


def task_definition(record: dict) -> list[str]:
    name, version = record["task"]["name"], record["task"]["version"]
    try:
        current = tasks.entry(name).component_class.metadata.version
    except UserError as error:
        return [str(error)]
    if version != current:
        return [f"task '{name}' version {version} is superseded by {current}: re-run on the current task"]
    return []


def plan(record: dict) -> list[str]:
    expected = MembershipPlan.balanced(record["models"], record["examples"], record["seed"], record["auxiliary"]).hash
    if expected != record["plan_hash"]:
        sizes = f"K={record['models']}, N={record['examples']}, seed {record['seed']}"
        return [
            f"plan_hash {record['plan_hash'][:12]}… is not the plan of {sizes} ({expected[:12]}…): use the harness's plan"
        ]
    return []


def seeds(record: dict) -> list[str]:
    if record["seed"] not in OFFICIAL_SEEDS:
        return [f"seed {record['seed']} is not an official seed {OFFICIAL_SEEDS}: re-run with --seed 0, 1 or 2"]
    return []


def _json(value) -> object:
    return json.loads(json.dumps(results.json_safe(value)))


def same_metrics(recomputed: dict, stated: dict) -> bool:
    """The stated metrics equal the recomputed ones (fields added to records later may be absent)."""
    recomputed = _json(recomputed)
    shared = [key for key in stated if key in recomputed]
    return {"auc", "tpr_at_fpr"} <= set(shared) and all(recomputed[key] == stated[key] for key in shared)


def aggregated_metrics(record: dict) -> list[str]:
    """The headline metrics must be the aggregate of the per-target metrics (catches an edited number)."""
    per_target = [{k: v for k, v in target.items() if k != "target"} for target in record["per_target"]]
    if not same_metrics(aggregate(per_target, seed=record["seed"]), record["metrics"]):
        return ["metrics are not the aggregate of per_target: a number was edited; submit the record as written"]
    return []


def scores(record: dict, scores_path: Path) -> list[str]:
    """Every headline metric recomputed from the per-example scores and the plan's memberships."""
    if sha256_file(scores_path) != record.get("scores_file", {}).get("sha256"):
        return [f"{scores_path} is not the scores file the record names (sha256 differs): submit them together"]
    with np.load(scores_path) as arrays:
        members = MembershipPlan.balanced(record["models"], record["examples"], record["seed"], record["auxiliary"])
        if not np.array_equal(arrays["members"], members.members):
            return [f"{scores_path}: its memberships are not the plan's: the scores come from another run"]
        chosen = arrays["chosen"] if "chosen" in arrays.files else None
        recomputed, _ = results.evaluate(arrays["scores"], members.members, record["seed"], chosen)
    if not same_metrics(recomputed, record["metrics"]):
        return [f"metrics differ from those recomputed from {scores_path.name}: the record's numbers were edited"]
    return []


def provenance(entry: dict) -> list[str]:
    status = (entry.get("provenance") or {}).get("status")
    if status not in STATUSES:
        return [f"provenance.status {status!r} is not one of {', '.join(STATUSES)}: submit with 'miabench submit'"]
    return []


def validate(entry: dict, scores_path: Path | None = None) -> list[str]:
    """Every problem of one entry (or bare record), one line each; empty when it is valid."""
    record = record_of(entry)
    problems = schema(record)
    if problems:
        return problems
    for check in (config, task_definition, plan, seeds, aggregated_metrics):
        problems += check(record)
    if "provenance" in entry:
        problems += provenance(entry)
    if scores_path is not None and Path(scores_path).is_file():
        problems += scores(record, Path(scores_path))
    return problems
