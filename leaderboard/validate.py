"""Validation of leaderboard entries: an entry cannot show what its configuration and scores do not give.

An entry is first checked against the record schema (every field, every type) and for names of
the safe alphabet that the registry knows; its sizes are bounded before anything is computed
from them. Then each check returns the problems it finds as lines, and an entry is valid when
none does. The checks need no data and no training: the config hash is recomputed from the
config the record states, the plan from its sizes and seed, the aggregated metrics from the
per-target metrics, the data fingerprint is compared with the task version's pin, timestamps
must be real and past, and a verified entry must still be what the ledger verified. When the
per-example scores file is at hand, every metric, the subgroup metrics, the utility and the
mean ROC are recomputed from it. Whether an entry is official (ranked) is
:mod:`miabench.leaderboard.official`'s question, not a validation failure.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np

from miabench import measure as measures
from miabench import record as records
from miabench.atomic import sha256_file
from miabench.cache import config_hash
from miabench.errors import UserError
from miabench.leaderboard import entries, ledger, official
from miabench.metrics import aggregate
from miabench.plan import MembershipPlan
from miabench.record import Entry, Record
from miabench.registry import attacks, defenses, tasks

MAX_MODELS = 1024
MAX_EXAMPLES = 250_000  # above the largest task's population (purchase100: 197,324)
MAX_CELLS = 2**25  # K x N of the plan rebuilt to check the plan hash (a GPU-track purchase100 is 12.6 M)
MAX_NAME = 200  # characters of a submitter's name
EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)  # before any miabench record


def registered(record: Record) -> list[str]:
    """Task, attack and defense are registered components, with parameters they accept."""
    found = []
    for registry, name, params in ((attacks, record.attack.name, record.attack.params),
                                   (defenses, record.defense.name, record.defense.params)):  # fmt: skip
        try:
            registry.create(name, params)
        except UserError as error:
            found.append(str(error))
    try:
        tasks.create(record.task.name, record.task.params)
    except UserError as error:
        found.append(str(error))
    return found


def sizes(record: Record) -> list[str]:
    """The sizes the other checks compute from, bounded first (a huge N would cost minutes and gigabytes)."""
    found = []
    if not 2 <= record.models <= MAX_MODELS or record.models % 2:
        found.append(f"models={record.models}: K is an even number from 2 to {MAX_MODELS}")
    if not 1 <= record.examples <= MAX_EXAMPLES:
        found.append(f"examples={record.examples}: N is from 1 to {MAX_EXAMPLES}")
    elif record.models * record.examples > MAX_CELLS:
        found.append(f"K x N = {record.models * record.examples:,} is above {MAX_CELLS:,}: no task is that large")
    elif not 0 <= record.auxiliary < record.examples:
        found.append(f"auxiliary={record.auxiliary} is not below examples={record.examples}")
    targets = [target.target for target in record.per_target]
    if len(targets) != record.metrics.targets or len(set(targets)) != len(targets):
        found.append(f"per_target lists {len(targets)} targets, metrics.targets says {record.metrics.targets}")
    elif any(not 0 <= k < record.models for k in targets):
        found.append(f"per_target names a target outside 0..{record.models - 1}")
    return found


def config(record: Record) -> list[str]:
    try:
        recomputed = config_hash(records.stated_config(record))
    except (UserError, TypeError) as error:
        return [str(error)]
    if recomputed != record.config_hash:
        stated = record.config_hash[:12]
        return [
            f"config_hash {stated}… is not the hash of the stated config ({recomputed[:12]}…): submit the record as written"
        ]
    return []


def current_version(record: Record) -> str:
    return tasks.entry(record.task.name).component_class.metadata.version


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


def facts(record: Record) -> list[str]:
    """A defense's facts that can be recomputed without training (DP-SGD's epsilon) must be the record's."""
    expected = defenses.create(record.defense.name, record.defense.params).expected_facts(
        record.recipe, the_plan(record).members
    )
    stated = {name: fact.per_model for name, fact in record.defense.facts.items()}
    if not same(measures.facts(stated), record.defense.facts):
        return ["defense.facts: a mean or std is not that of its per_model values: a number was edited"]
    if expected is None:
        return []
    wrong = sorted(name for name in set(expected) | set(stated)
                   if not np.allclose(stated.get(name, []), expected.get(name, []), rtol=1e-6, atol=0)
                   or len(stated.get(name, [])) != len(expected.get(name, [])))  # fmt: skip
    if not wrong:
        return []
    shown = ", ".join(f"{name} {np.mean(stated[name]):.6g} (recomputed: {np.mean(expected[name]):.6g})"
                      if name in stated and name in expected else name for name in wrong)  # fmt: skip
    return [f"defense.facts are not what '{record.defense.name}' gives for this configuration: {shown}"]


def as_json(value) -> object:
    return json.loads(json.dumps(records.json_safe(value)))


def same(recomputed, stated) -> bool:
    """Recomputed values (plain data) equal the stated ones (schema objects, lists or dicts of them)."""

    def plain(value):
        if hasattr(value, "model_dump"):
            return value.model_dump()
        if isinstance(value, list):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    return as_json(recomputed) == as_json(plain(stated))


def aggregated_metrics(record: Record) -> list[str]:
    """The headline metrics must be the aggregate of the per-target metrics (catches an edited number),
    with the CIs resampling the unit the record states."""
    per_target = [target.model_dump() for target in record.per_target]
    recomputed = aggregate(per_target, seed=record.seed, unit=record.metrics.ci_unit)
    recomputed |= {"targets": record.metrics.targets}
    if not same(recomputed | {"examples": record.metrics.examples}, record.metrics):
        return ["metrics are not the aggregate of per_target: a number was edited; submit the record as written"]
    return []


def timestamp(text: str, field: str, after: datetime.datetime = EPOCH) -> tuple[list[str], datetime.datetime | None]:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return [f"{field} {text!r} is not an ISO 8601 timestamp"], None
    if moment.tzinfo is None:
        return [f"{field} {text!r} has no time zone (the harness writes UTC, e.g. 2026-12-03T10:00:00+00:00)"], None
    now = datetime.datetime.now(datetime.timezone.utc)
    if not after <= moment <= now + datetime.timedelta(minutes=5):
        return [f"{field} {text} is not a real past time (after {after.isoformat(timespec='seconds')})"], None
    return [], moment


def times(record: Record) -> list[str]:
    found, created = timestamp(record.created, "created")
    if isinstance(record, Entry):
        submitted_problems, _ = timestamp(record.provenance.submitted, "provenance.submitted", created or EPOCH)
        found += submitted_problems
        for line in record.provenance.history:
            found += timestamp(line.submitted, "provenance.history.submitted")[0]
    return found


def submitter(record: Record) -> list[str]:
    if not isinstance(record, Entry):
        return []
    names = [record.provenance.submitted_by, *(line.submitted_by for line in record.provenance.history)]
    return [
        f"submitted_by {name[:40]!r}: give a name of 1 to {MAX_NAME} printable characters"
        for name in names
        if not 0 < len(name) <= MAX_NAME or not name.isprintable()
    ]


def verified(record: Record) -> list[str]:
    if not isinstance(record, Entry):
        return []
    return ledger.problems(entries.entry_key(record), record, ledger.load())


def scores(record: Record, scores_path: Path) -> list[str]:
    """Every metric, the subgroup metrics, the utility and the ROC recomputed from the per-example scores."""
    if sha256_file(scores_path) != record.scores_file.sha256:
        return [f"{scores_path} is not the scores file the record names (sha256 differs): submit them together"]
    with np.load(scores_path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    members = the_plan(record).members
    if not np.array_equal(arrays["members"], members):
        return [f"{scores_path}: its memberships are not the plan's: the scores come from another run"]
    groups = {name.removeprefix("group:"): mask for name, mask in arrays.items() if name.startswith("group:")}
    chosen = arrays.get("chosen")
    recomputed = measures.attack_metrics(arrays["scores"], chosen, members, groups, record.seed,
                                         unit=record.metrics.ci_unit)  # fmt: skip
    shown = ["metrics", "per_target", "base_metrics", "amplification"] + (["metrics_by_subgroup"] if groups else [])
    found = [field for field in shown if not same(recomputed.get(field), getattr(record, field))]
    if "test_predictions" in arrays:
        meta = tasks.entry(record.task.name).component_class.metadata
        utility = measures.utility_of_predictions(arrays["test_predictions"], arrays["test_labels"], record.classes,
                                                  meta.names, meta.flagged_class)  # fmt: skip
        if record.utility is not None and record.utility.worst_class_recall is None:
            utility.pop("worst_class_recall")  # a record from before it was stated
        found += [] if same(utility, record.utility) else ["utility"]
    if isinstance(record, Entry) and record.roc is not None:
        found += [] if same(measures.mean_roc(arrays["scores"], members, chosen), record.roc) else ["roc"]
    if record.audit is not None:
        from miabench import audit

        delta = audit.delta_of(record.defense.model_dump() if record.defense else None)
        found += [] if same(audit.audit(arrays["scores"], members, chosen, delta), record.audit) else ["audit"]
    if not found:
        return []
    return [f"{', '.join(found)} differ from those recomputed from {scores_path.name}: the numbers were edited"]


def validate(entry: dict | Record, scores_path: Path | None = None, filed: bool = True) -> list[str]:
    """Every problem of one entry (or bare record), one line each; empty when it is valid.

    ``filed``: the entry is on the board, so a ledger line of its key must match it (a submission
    not yet filed is checked against the ledger by :func:`entries.resubmitted` instead).
    """
    data = entry.model_dump() if isinstance(entry, Record) else entry
    if not isinstance(data, dict):
        return [f"a record is a JSON object, not {type(data).__name__}: restore it from git or submit the run again"]
    if data.get("schema_version") != records.SCHEMA_VERSION:
        stated = data.get("schema_version")
        return [f"schema_version {stated!r} is not {records.SCHEMA_VERSION}: run 'miabench upgrade' on it"]
    provenance = data.get("provenance")
    if isinstance(provenance, dict) and {"status", "verified_by", "verified"} & set(provenance):
        ledger_only = "only the maintainers' ledger (leaderboard/verified.json) says an entry is verified"
        return [f"provenance states a verification: {ledger_only}; remove status/verified* and submit the run"]
    schema = Entry if "provenance" in data else Record
    problems = records.problems(data, schema)
    if problems:
        return problems
    record = schema.model_validate(data)
    if record.task.name is None:
        return ["a signals-file record names no task: the leaderboard ranks runs of registered tasks"]
    problems = entries.unsafe_names(record) or registered(record) or sizes(record)
    if problems:
        return problems  # the checks below compute from these names and sizes
    for check in (config, plan, aggregated_metrics, facts, times, submitter) + ((verified,) if filed else ()):
        problems += check(record)
    if record.task.version == current_version(record):  # an older version's data is not pinned any more
        problems += official.data_problems(record)
    if scores_path is not None and Path(scores_path).is_file():
        problems += scores(record, Path(scores_path))
    return problems


def validate_file(path: Path, scores_path: Path | None = None) -> list[str]:
    """The problems of the entry stored at ``path`` (unreadable JSON is one)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return [f"not a readable JSON entry ({error}); restore it from git or submit the run again"]
    return validate(data, scores_path)


def scores_for(path: Path, scores_roots: list[Path] = ()) -> Path | None:
    """The scores file of the entry at ``path``: beside it, or at its key under a published copy's entries."""
    candidates = [entries.scores_beside(Path(path))]
    parts = Path(path).resolve().parts[-3:]  # <track>/<task>/<id>.json
    candidates += [entries.scores_beside(Path(root).joinpath(*parts)) for root in scores_roots]
    return next((candidate for candidate in candidates if candidate.is_file()), None)
