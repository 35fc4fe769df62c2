"""A suite: a declared matrix of runs (tasks x tracks x seeds x defense settings, each attacked), run in turn
and submitted to a local board: ``miabench suite FILE.toml`` (examples/suite-cpu.toml).

The file declares::

    tasks = ["location", { name = "distress", family = "ngram-mlp" }]   # a name, or a table with family/params
    tracks = ["cpu"]                # default ["cpu"]
    seeds = [0, 1, 2]               # default [0]
    models = 16                     # K (default: each track's)
    attacks = ["loss", "lira"]      # default: each defense's attack set (miabench.spec.attack_set)
    out = "miabench-suite/cpu"      # the runs go to OUT/runs/<name>/, the board to OUT/board/
    by = "my lab"                   # who ran it, kept in each entry
    executor = "ray"                # default local; address = "auto" for the cluster 'ray start' began
    models_per_group = 4            # models trained together: with Ray, the groups are its tasks
    [params]                        # assignments for every run, as in a run's config file
    epochs = 10
    [[defenses]]
    name = "none"
    [[defenses]]
    name = "dpsgd"
    grid = true                     # the defense's pinned grid ('miabench list dpsgd' shows it)
    [[defenses]]
    name = "l2"
    params = { weight_decay = [1e-4, 1e-3] }   # a list makes a setting per value

Each run is one :class:`~miabench.spec.RunSpec`, trained on the chosen executor (its groups Ray tasks
with ``executor = "ray"``). A run whose records are already in its folder, made by the same command, is
skipped, and one whose models the cache holds trains nothing, so a killed suite is run again to finish.
Each run's records are submitted (validated) to ``OUT/board/entries`` as it ends; the board is rendered
into ``OUT/board/`` at the end (``index.html``, ``leaderboard.md``, ...).
"""

from __future__ import annotations

import difflib
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from miabench import runner, spec
from miabench.errors import UserError

KEYS = {"tasks", "tracks", "seeds", "models", "models_per_group", "attacks", "defenses", "params", "out", "by",
        "executor", "address"}  # fmt: skip
DEFENSE_KEYS = {"name", "grid", "params"}
TASK_KEYS = {"name", "family", "params"}
DEFAULT_OUT = Path("miabench-suite")
DEFAULT_BY = "miabench suite"


@dataclass(frozen=True)
class Suite:
    """The runs of a suite, by name, in order; where they and the board go; who ran them."""

    runs: tuple[tuple[str, spec.RunSpec], ...]
    out: Path
    by: str

    @property
    def board(self) -> Path:
        return self.out / "board"


def refuse_unknown(where: str, given, known: set[str]) -> None:
    unknown = sorted(set(given) - known)
    if unknown:
        hint = difflib.get_close_matches(unknown[0], known, n=1)
        suggestion = f"did you mean '{hint[0]}'? " if hint else ""
        raise UserError(f"{where}: unknown key '{unknown[0]}': {suggestion}it takes {', '.join(sorted(known))}")


def listed(config: dict, key: str, default: list, path: Path) -> list:
    value = config.get(key, default)
    value = value if isinstance(value, list) else [value]
    if not value:
        raise UserError(f"{path}: '{key}' is empty; list at least one, e.g. {key} = {default or ['location']!r}")
    return value


def read(path: Path, **machine) -> Suite:
    """The suite a TOML file declares; ``machine`` sets the fields of every run that the file may not
    (data_dir, cache_dir, progress) and overrides its out, by, executor and address when given."""
    path = Path(path)
    config = spec.read_toml(path, "suite", "examples/suite-cpu.toml")
    refuse_unknown(str(path), config, KEYS)
    overrides = {key: machine.pop(key) for key in ("out", "by", "executor", "address") if key in machine}
    config |= {key: value for key, value in overrides.items() if value is not None}
    if "tasks" not in config:
        raise UserError(f"{path}: no 'tasks'; declare the tasks of the matrix, e.g. tasks = ['location']")
    if "defenses" not in config:
        raise UserError(f"{path}: no [[defenses]]; declare at least one, e.g. [[defenses]] name = 'none'")
    out = Path(config.get("out", DEFAULT_OUT))
    fields = {key: config[key] for key in ("models", "models_per_group", "executor", "address") if key in config}
    fields |= machine
    return Suite(tuple(expand(config, path, out, fields)), out, str(config.get("by", DEFAULT_BY)))


def task_of(declared, path: Path) -> tuple[str, str | None, dict]:
    if isinstance(declared, str):
        return declared, None, {}
    if not isinstance(declared, dict) or "name" not in declared:
        raise UserError(f"{path}: a task is a name or a table with a name, e.g. {{ name = 'distress' }}")
    refuse_unknown(f"{path}: task '{declared['name']}'", declared, TASK_KEYS)
    return declared["name"], declared.get("family"), dict(declared.get("params", {}))


def settings_of(declared, path: Path) -> tuple[str, list[dict]]:
    """A declared defense's name and its settings: each a dict of its own parameters."""
    from miabench.registry import defenses

    if not isinstance(declared, dict) or "name" not in declared:
        raise UserError(f"{path}: each [[defenses]] needs a name, e.g. name = 'dpsgd'")
    name = declared["name"]
    refuse_unknown(f"{path}: defense '{name}'", declared, DEFENSE_KEYS)
    cls = defenses.entry(name).component_class
    settings = spec.expand(dict(declared.get("params", {})))
    if declared.get("grid"):
        if not cls.grid:
            raise UserError(f"{path}: defense '{name}' has no pinned grid; give its params instead, or drop grid")
        settings = [point | setting for point in cls.grid_settings() for setting in settings]
    return name, settings


def expand(config: dict, path: Path, out: Path, fields: dict) -> list[tuple[str, spec.RunSpec]]:
    """Every run of the matrix, task slowest, then track, seed, defense and setting."""
    declared = [settings_of(item, path) for item in listed(config, "defenses", [], path)]
    given = config.get("attacks")
    every = tuple(dict.fromkeys(a for name, _ in declared for a in spec.attack_set(name)))  # what `none` meets
    common = spec.flatten(config.get("params", {}))
    runs = []
    for task_declared in listed(config, "tasks", [], path):
        task, family, task_params = task_of(task_declared, path)
        for track in listed(config, "tracks", ["cpu"], path):
            for seed in listed(config, "seeds", [0], path):
                for defense, settings in declared:
                    attacks = given or (every if defense == "none" else spec.attack_set(defense))
                    for setting in settings:
                        values = common | {f"{task}.{k}": v for k, v in spec.flatten(task_params).items()}
                        values |= {f"{defense}.{key}": value for key, value in setting.items()}
                        words = [task, *([family] if family else []), track, f"seed{seed}", defense]
                        name = "-".join([*words, *(f"{key}={value}" for key, value in setting.items())])
                        made = spec.make(values, family, task=task, defense=defense, track=track, seed=seed,
                                         attacks=tuple(attacks), out=out / "runs" / name, **fields)  # fmt: skip
                        runs.append((name, made))
    names = [name for name, _ in runs]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UserError(f"{path}: the run '{twice[0]}' is declared twice; list each task, track, seed and setting once")
    return runs


def finished(made: spec.RunSpec) -> list | None:
    """The records of a run already in its folder, made by the same command, or None (then it runs)."""
    from miabench import record

    prepared = runner.prepare(made)
    found = []
    for attack in prepared.attacks:
        folder = made.out / attack.name
        if not (folder / "result.json").is_file() or not (folder / "scores.npz").is_file():
            return None
        try:
            stated = record.read(folder / "result.json")
        except UserError:
            return None
        if stated.scores_file.command != runner.attack_command(prepared, attack.name):
            return None
        found.append(stated)
    return found


def say(line: str, quiet: bool) -> None:
    if not quiet:
        print(line, file=sys.stderr, flush=True)


@dataclass
class Outcome:
    runs: int
    skipped: int
    entries: list[Path]
    board: list[Path]


def run(suite: Suite, quiet: bool = False, dry_run: bool = False) -> Outcome:
    """Run every run of ``suite`` in turn (skipping those already done), submit each run's records to the
    suite's board as it ends, then render the board. With ``dry_run``, only say what would run."""
    from miabench.leaderboard import build, entries, site, submit

    root = suite.board / "entries"
    total, skipped, filed = len(suite.runs), 0, {}
    for i, (name, made) in enumerate(suite.runs, 1):
        records = finished(made)
        if records is not None:
            skipped += 1
            say(f"run {i} of {total}: {name}: done earlier ({made.out}), skipped", quiet)
            if all(entries.entry_path(stated, root).is_file() for stated in records) or dry_run:
                continue
        elif dry_run:
            say(f"run {i} of {total}: {name}: would run ({', '.join(made.attacks)})", quiet)
            continue
        else:
            say(f"run {i} of {total}: {name} ({', '.join(made.attacks)})…", quiet)
            runner.run(made, label=f"{i}/{total} {name}")
        for path in submit.submit(made.out, suite.by, root):
            if path in filed and filed[path] != name:
                warnings.warn(f"runs '{filed[path]}' and '{name}' file the same board entry {path} (an entry's id "
                              "leaves out what differs between them): the board keeps the later", stacklevel=2)  # fmt: skip
            filed[path] = name
    if dry_run:
        return Outcome(total, skipped, [], [])
    chosen = build.load([root]) if root.is_dir() else []
    written = site.write_board(chosen, suite.board)
    return Outcome(total, skipped, list(filed), written)
