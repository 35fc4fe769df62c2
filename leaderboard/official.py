"""What makes an entry official: the track's task parameters, K, recipe and data, an official seed, committed code.

Each is recomputed from the registry, never read from the entry: a record that says it changed
nothing (``track.overrides == {}``) but trained with other parameters is still unofficial. An
unofficial entry is valid and shown apart, never ranked; an entry that ran the track's
parameters on other data than the task version's fails validation.
"""

from __future__ import annotations

import dataclasses
import json

from miabench.errors import UserError
from miabench.record import Record
from miabench.registry import defenses, tasks

OFFICIAL_SEEDS = (0, 1, 2)


def _shown(value) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def reference_task(record: Record):
    """The task as the entry's track pins it (keeping the entry's model family, each family being official)."""
    from miabench.runner import track_params

    task_class = tasks.entry(record.task.name).component_class
    family = {"family": record.task.params["family"]} if "family" in record.task.params else {}
    return tasks.create(record.task.name, {**track_params(task_class, record.track.name), **family})


def _task_params(record: Record, reference) -> list[str]:
    pinned = dataclasses.asdict(reference)
    changed = sorted(set(pinned) | set(record.task.params))
    changed = [key for key in changed if record.task.params.get(key, "<absent>") != pinned.get(key, "<absent>")]
    return [
        "task parameters are not the track's: "
        + ", ".join(f"{key}={_shown(record.task.params.get(key))} (track: {_shown(pinned.get(key))})" for key in changed)
    ] if changed else []  # fmt: skip


def reasons(record: Record) -> list[str]:
    """Why the entry is not official, one short reason each (empty: official)."""
    try:
        reference = reference_task(record)
        defense = defenses.create(record.defense.name, record.defense.params)
    except UserError as error:  # parameters out of range: validation reports them
        return [str(error)]
    track = record.track.name
    found = [f"the run overrode its track: {_shown(record.track.overrides)}"] if record.track.overrides else []
    found += _task_params(record, reference)
    models = reference.profile(track).models
    if record.models != models:
        found.append(f"K={record.models} (the track's is {models})")
    recipe = defense.training_recipe(reference.recipe(track))
    if record.recipe != recipe:
        ours, theirs = dataclasses.asdict(record.recipe), dataclasses.asdict(recipe)
        changed = [f"{key}={ours[key]} (track: {theirs[key]})" for key in ours if ours[key] != theirs[key]]
        found.append("the recipe is not the track's: " + ", ".join(changed))
    if record.seed not in OFFICIAL_SEEDS:
        found.append(f"seed {record.seed} is not an official seed {OFFICIAL_SEEDS}")
    if record.miabench.commit is None or record.miabench.dirty is not False:
        found.append("not run from a clean git checkout of miabench (commit unknown or tree dirty)")
    if reference.pinned_data(track) is None:
        found.append(f"task '{record.task.name}' pins no data on the {track} track yet")
    return found


def data_problems(record: Record) -> list[str]:
    """An entry on the track's task parameters must have run on the task version's data."""
    try:
        reference = reference_task(record)
    except UserError as error:
        return [str(error)]
    pin = reference.pinned_data(record.track.name)
    if pin is None or _task_params(record, reference):
        return []  # nothing pinned, or other parameters: unofficial, and its data is its own
    found = []
    if record.examples != pin.examples:
        found.append(f"examples={record.examples} is not the task version's N={pin.examples}")
    if record.task.data_fingerprint != pin.fingerprint:
        found.append(
            f"data_fingerprint {record.task.data_fingerprint[:12]}… is not task '{record.task.name}' "
            f"v{record.task.version}'s on the {record.track.name} track ({pin.fingerprint[:12]}…)"
        )
    return [f"{line}: run on the task's own data" for line in found]
