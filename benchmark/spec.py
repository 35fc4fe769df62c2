"""What a run is: a :class:`RunSpec`, the one description that the CLI, config files, the Python
API, verification and sweeps all build.

A spec names the components and their parameters (routed: ``{"lira": {"fixed_variance": True}}``),
K, the seed, the track and where things go. Its fields are declared like a component's, so one
check refuses a bad value (``--seed -1``) before anything loads or trains. A config file
(``miabench run --config FILE.toml``) holds the same fields; a list given for ``defense`` or
for a parameter makes a sweep (:func:`expand`).
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import shlex
from dataclasses import dataclass
from pathlib import Path

import tomllib

from miabench.api import STRATEGIES, TRACKS
from miabench.errors import UserError
from miabench.executors import EXECUTORS
from miabench.params import ParameterError, check, declared, param, route

DEFAULT_TASK = "location"
DEFAULT_ATTACKS = ("loss", "lira", "lira-offline")
DEFAULT_DEFENSE = "none"
ALL = "all"  # attacks = ["all"]: every registered attack the setting supports

# The attacks every defense setting, `none` included, is judged by (docs/defenses.md): one set per access level a
# defense serves (Defense.serves), declared once here; `--grid` runs use it and the board's defense view takes each
# setting's strongest attack over it. A defense that serves labels is attacked by the label-only attacks as well,
# and by the score attacks on what it serves; references train under the defense (the attacks adapt to it).
SCORE_ATTACKS = ("loss", "lira", "lira-offline", "rmia", "rmia-online", "reference", "shadow")
ATTACK_SETS = {"scores": SCORE_ATTACKS, "logits": SCORE_ATTACKS, "label": (*SCORE_ATTACKS, "gap", "label-only")}


def attack_set(defense: str) -> tuple[str, ...]:
    """The attacks a setting of ``defense`` is judged by: the set of the access level it serves (a defense this
    install does not know is taken to serve scores)."""
    from miabench.registry import defenses

    try:
        serves = defenses.entry(defense).component_class.serves
    except UserError:
        serves = "scores"
    return ATTACK_SETS[serves]


@dataclass(frozen=True)
class RunSpec:
    """One run: train (or load) K models of a task under a defense and attack each in turn."""

    task: str = param(DEFAULT_TASK, "the task (miabench list tasks)")
    attacks: tuple = param(DEFAULT_ATTACKS, "the attacks, or ('all',) for every attack the setting supports")
    defense: str = param(DEFAULT_DEFENSE, "the defense (miabench list defenses)")
    params: dict = param(None, "parameters by component name, e.g. {'lira': {'fixed_variance': True}}")
    models: int | None = param(None, "K, the number of models (none: the track's)", within="[2, inf)")
    seed: int = param(0, "the run seed: the membership plan, initialisations, batch orders", within="[0, inf)")
    track: str = param("auto", "the harness track (auto: gpu where CUDA is visible)", choices=("auto", *TRACKS))
    device: str = param("auto", "auto, cpu, cuda or cuda:N")
    strategy: str | None = param(None, "force how models train together (none: the task's)", choices=STRATEGIES)
    models_per_group: int | None = param(None, "models trained together (none: all K)", within="[1, inf)")
    data_dir: Path | None = param(None, "local dataset folder (none: $MIABENCH_DATA_DIR, else the public source)")
    cache_dir: Path | None = param(None, "signals cache (none: $MIABENCH_CACHE_DIR, else the user cache)")
    out: Path | None = param(None, "folder for the records (none: write nothing)")
    progress: bool = param(True, "show progress bars")
    executor: str = param("local", "where the groups of models train: local (this process) or ray (a Ray cluster)",
                          choices=EXECUTORS)  # fmt: skip
    address: str | None = param(None, "with executor ray: the cluster's address (auto: the one 'ray start' began "
                                "here; none: a fresh local Ray instance)")  # fmt: skip

    def __post_init__(self):
        for name in ("data_dir", "cache_dir", "out"):
            if isinstance(getattr(self, name), str):
                object.__setattr__(self, name, Path(getattr(self, name)))
        if isinstance(self.attacks, (list, str)):
            object.__setattr__(
                self, "attacks", tuple([self.attacks] if isinstance(self.attacks, str) else self.attacks)
            )
        object.__setattr__(self, "params", {name: dict(values) for name, values in (self.params or {}).items()})
        try:
            check(self)
        except ParameterError as error:
            flag = "--" + error.parameter.replace("_", "-")
            raise UserError(f"run setting '{error.parameter}' ({flag}): {error.detail}") from None
        if self.models is not None and self.models % 2:
            raise UserError(f"run setting 'models' (--models): {self.models} is odd, but the membership plan pairs "
                            "models; give an even number, e.g. 16")  # fmt: skip
        if not self.attacks:
            raise UserError("run setting 'attacks': none given; name at least one, e.g. attacks = ['loss']")
        if self.address is not None and self.executor != "ray":
            raise UserError(f"run setting 'address' (--address): it names a Ray cluster, but the executor is "
                            f"'{self.executor}'; add --executor ray, or leave --address out")  # fmt: skip
        named = {self.task, self.defense, *self.attacks}
        stray = sorted(set(self.params) - named)
        if stray:
            raise UserError(
                f"run setting 'params': '{stray[0]}' is not a component of this run ({', '.join(sorted(named))}); "
                f"give its parameters under the name of a selected task, attack or defense"
            )

    def replace(self, **changes) -> RunSpec:
        return dataclasses.replace(self, **changes)

    def of(self, component: str) -> dict:
        """The parameter values this spec gives the component ``component``."""
        return dict(self.params.get(component, {}))

    def default_out(self) -> Path:
        """Where the CLI writes a run whose spec names no folder."""
        return Path("miabench-results") / f"{self.task}-{self.defense}-K{self.models}-seed{self.seed}"

    def command(self) -> str:
        """The ``miabench run`` command line that makes this run (parameters that differ from the defaults)."""
        from miabench.registry import attacks, defenses, tasks

        words = ["miabench", "run", "--task", self.task, "--attack", ",".join(self.attacks)]
        words += ["--defense", self.defense] if self.defense != DEFAULT_DEFENSE else []
        words += ["--models", str(self.models)] if self.models is not None else []
        words += ["--seed", str(self.seed)] + (["--track", self.track] if self.track != "auto" else [])
        registries = [(self.task, tasks), (self.defense, defenses)] + [(name, attacks) for name in self.attacks]
        for name, registry in registries:
            if name == ALL or name not in self.params:
                continue
            defaults = dataclasses.asdict(registry.create(name))
            for key, value in self.params[name].items():
                if defaults.get(key) != value:
                    words += ["--param", f"{name}.{key}={'none' if value is None else value}"]
        return shlex.join(words)

    @classmethod
    def from_record(cls, record, **where) -> RunSpec:
        """The spec of the run that wrote ``record`` (a :class:`miabench.record.Record`); ``where``
        sets the machine's own fields (data_dir, cache_dir, out, progress)."""
        params = {record.task.name: dict(record.task.params), record.attack.name: dict(record.attack.params)}
        params[record.defense.name] = dict(record.defense.params)
        return cls(
            task=record.task.name, attacks=(record.attack.name,), defense=record.defense.name, params=params,
            models=record.models, seed=record.seed, track=record.track.name, **where,
        )  # fmt: skip


def make(assignments: dict | None = None, family: str | None = None, **fields) -> RunSpec:
    """A spec from unrouted ``key=value`` parameter assignments (``lr`` or ``lira.online``), as the
    CLI and config files give them: each goes to the selected components that take it."""
    spec = RunSpec(**fields)
    assignments = dict(assignments or {})
    if family is not None:
        from miabench.registry import tasks

        task = tasks.entry(spec.task).component_class
        if "family" not in declared(task):
            raise UserError(
                f"--family: task '{spec.task}' has one model family ({task.metadata.model_family}); leave --family out"
            )
        assignments[f"{spec.task}.family"] = family
    if not assignments:
        return spec
    classes = component_classes(spec)
    for key in assignments:
        if key.rpartition(".")[0] not in classes and not any(key in declared(cls) for cls in classes.values()):
            unselected(key, spec)
    routed = route(assignments, classes)
    return spec.replace(params={name: values for name, values in routed.items() if values})


def unselected(key: str, spec: RunSpec) -> None:
    """Refuse ``key``, which no selected component takes, naming the registered components that would."""
    from miabench.registry import attacks, defenses, tasks

    owner, _, bare = key.rpartition(".")
    flags = {"tasks": "--task", "attacks": "--attack", "defenses": "--defense"}
    takers = [f"{flags[kind]} {name}" for kind, registry in (("tasks", tasks), ("attacks", attacks),
              ("defenses", defenses)) for name in registry.names()
              if owner in ("", name) and bare in declared(registry.entry(name).component_class)]  # fmt: skip
    if not takers:
        return  # route() says so, with a near miss if there is one
    selected = ", ".join([spec.task, spec.defense, *spec.attacks])
    raise UserError(
        f"no selected component ({selected}) takes parameter '{key}'; it is taken by {', '.join(takers)}: "
        "select one of them, or leave the parameter out"
    )


def component_classes(spec: RunSpec) -> dict[str, type]:
    """The classes of the components a spec selects, by name (``all`` stands for every attack)."""
    from miabench.registry import attacks, defenses, tasks

    names = attacks.names() if spec.attacks == (ALL,) else spec.attacks
    classes = {spec.task: tasks.entry(spec.task).component_class}
    classes[spec.defense] = defenses.entry(spec.defense).component_class
    classes |= {name: attacks.entry(name).component_class for name in names}
    return classes


# --- config files and sweeps -------------------------------------------------------------------


CONFIG_KEYS = {f.name for f in dataclasses.fields(RunSpec)} | {"family"}


def read_toml(path: Path, kind: str, example: str) -> dict:
    """A TOML file's table, or one line naming the problem: ``kind`` says what the file is, ``example`` a valid one."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"cannot read the {kind} file {path} ({error.strerror}); give the path of a .toml file")
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path} is not valid TOML ({error}); see {example}") from None


def read_config(path: Path) -> dict:
    """The fields of a TOML config file (those of RunSpec, plus ``family``), with ``params``
    flattened into ``key = value`` assignments: ``[params.lira] online = false`` is ``lira.online``."""
    path = Path(path)
    config = read_toml(path, "config", "examples/quickstart.toml")
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        hint = difflib.get_close_matches(unknown[0], CONFIG_KEYS, n=1)
        suggestion = f"did you mean '{hint[0]}'? " if hint else ""
        raise UserError(
            f"{path}: unknown setting '{unknown[0]}': {suggestion}it takes {', '.join(sorted(CONFIG_KEYS))}"
        )
    config["params"] = flatten(config.get("params", {}))
    return config


def flatten(table: dict, prefix: str = "") -> dict:
    """``{"lira": {"online": False}, "lr": 1e-3}`` -> ``{"lira.online": False, "lr": 1e-3}``."""
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out |= flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def values_of(value) -> list:
    """The values a parameter takes in a sweep: a list, or a comma-separated string, else one value."""
    if isinstance(value, list):
        return value
    if isinstance(value, str) and "," in value:
        items = [item.strip() for item in value.split(",")]
        if not all(items):
            raise UserError(f"the list {value!r} holds an empty value; write e.g. 1,4,8")
        return items
    return [value]


def is_sweep(defenses: list[str], assignments: dict) -> bool:
    return len(defenses) > 1 or any(len(values_of(value)) > 1 for value in assignments.values())


def expand(assignments: dict) -> list[dict]:
    """Every setting of the listed values, first key slowest."""
    keys = list(assignments)
    options = [values_of(assignments[key]) for key in keys]
    return [dict(zip(keys, combination)) for combination in itertools.product(*options)]


@dataclass(frozen=True)
class Sweep:
    """A list of runs with names: the undefended reference first, then each defense setting."""

    runs: tuple[tuple[str, RunSpec], ...]


def swept(assignments: dict) -> list[str]:
    """The parameters a sweep varies (those given several values), in the order given."""
    return [key for key, value in assignments.items() if len(values_of(value)) > 1]


def default_sweep_out(task: str, defenses: list[str], assignments: dict, models: int, seed: int) -> Path:
    """Where the CLI writes a sweep that names no folder: K, the seed and each varied parameter's values
    are in the name, so a sweep over other values or another K does not overwrite this one's frontier,
    e.g. ``miabench-results/location-dpsgd-sweep-epsilon=1,4-K16-seed0``."""
    varied = [f"{key}={','.join(str(v) for v in values_of(assignments[key]))}" for key in swept(assignments)]
    return Path("miabench-results") / "-".join([task, *defenses, "sweep", *varied, f"K{models}", f"seed{seed}"])


def sweep(defenses: list[str], assignments: dict, out: Path | None, family: str | None = None, **fields) -> Sweep:
    """The runs of a sweep: ``none`` once (without any defense's own parameters), then every setting
    of each defense, each into its own folder under ``out``."""
    from miabench.registry import defenses as registry

    settings = expand(assignments)
    varied = swept(assignments)
    own = {key for name in defenses for key in declared(registry.entry(name).component_class)}

    def folder(name: str) -> Path | None:
        return None if out is None else Path(out) / name

    reference = {key: value for key, value in settings[0].items() if key.rpartition(".")[2] not in own}
    runs = [("none", make(reference, family, defense="none", out=folder("none"), **fields))]
    for defense in defenses:
        for setting in settings if defense != "none" else []:
            name = "-".join([defense, *(f"{key}={setting[key]}" for key in varied)])
            runs.append((name, make(setting, family, defense=defense, out=folder(name), **fields)))
    return Sweep(tuple(runs))


def grid_sweep(defenses: list[str], assignments: dict, out: Path | None, family: str | None = None,
               **fields) -> Sweep:  # fmt: skip
    """The runs of each defense's pinned grid (:meth:`Defense.grid_settings`): ``none`` once, then every
    setting of each grid, each into its own folder under ``out``. The assignments fix what the grids leave
    (a list among them multiplies the grid). Unless ``fields`` name the attacks, each setting is attacked by
    its :func:`attack_set` and ``none`` by all of the sets of the sweep, so every setting meets the same ones."""
    from miabench.registry import defenses as registry

    chosen = [name for name in defenses if name != "none"]
    classes = {name: registry.entry(name).component_class for name in chosen}
    own = {key for cls in classes.values() for key in declared(cls)}
    settings, varied = expand(assignments), swept(assignments)
    given = fields.pop("attacks", None)

    def attacks(*names: str) -> dict:
        if given is not None:
            return {"attacks": given}
        return {"attacks": tuple(dict.fromkeys(attack for name in names for attack in attack_set(name)))}

    def folder(name: str) -> Path | None:
        return None if out is None else Path(out) / name

    reference = {key: value for key, value in settings[0].items() if key.rpartition(".")[2] not in own}
    runs = [("none", make(reference, family, defense="none", out=folder("none"), **attacks("none", *chosen),
                          **fields))]  # fmt: skip
    for defense in chosen:
        for point in classes[defense].grid_settings():
            for setting in settings:
                name = "-".join([defense, *(f"{key}={value}" for key, value in point.items()),
                                 *(f"{key}={setting[key]}" for key in varied)])  # fmt: skip
                values = setting | {f"{defense}.{key}": value for key, value in point.items()}
                runs.append((name, make(values, family, defense=defense, out=folder(name), **attacks(defense),
                                        **fields)))  # fmt: skip
    return Sweep(tuple(runs))
