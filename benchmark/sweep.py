"""Sweeps: a parameter given a list (``--param epsilon=1,4,8``), or several defenses
(``--defense l2,dpsgd``), run every setting in order.

Lists multiply (the settings are their product, first key slowest, for each defense
in turn). A sweep also runs the undefended models once, as the frontier's reference.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from miabench import frontier, runner
from miabench.errors import UserError
from miabench.params import declared
from miabench.registry import defenses


def is_sweep(defense_names: list[str], params: dict[str, str]) -> bool:
    return len(defense_names) > 1 or any("," in value for value in params.values())


def expand(params: dict[str, str]) -> list[dict[str, str]]:
    """Every setting of the listed values, in the order given."""
    options = []
    for key, value in params.items():
        values = [item.strip() for item in value.split(",")]
        if not all(values):
            raise UserError(f"--param {key}={value}: an empty value in the list; write e.g. {key}=1,4,8")
        options.append(values)
    return [dict(zip(params, combination)) for combination in itertools.product(*options)]


def setting_name(defense: str, setting: dict[str, str], swept: list[str]) -> str:
    return "-".join([defense, *(f"{key}={setting[key]}" for key in swept)])


def undefended_params(defense: str, setting: dict[str, str]) -> dict[str, str]:
    """The setting without the defense's own parameters (for the reference run under 'none')."""
    own = set(declared(defenses.entry(defense).component_class))
    return {key: value for key, value in setting.items() if key.rpartition(".")[2] not in own}


def run(out: Path, defense_names: list[str], params: dict[str, str] | None = None, **run_args):
    """Run each setting into ``out/<setting>/``, then write the frontier; returns ``[(setting, records)]``."""
    params = params or {}
    settings = expand(params)
    swept = [key for key, value in params.items() if "," in value]
    reference = settings[0]
    for defense in defense_names:
        reference = undefended_params(defense, reference)
    runs = [("none", runner.run(defense="none", params=reference, out=out / "none", **run_args))]
    for defense in defense_names:
        for setting in settings if defense != "none" else []:
            name = setting_name(defense, setting, swept)
            runs.append((name, runner.run(defense=defense, params=setting, out=out / name, **run_args)))
    frontier.write(out, runs)
    return runs
