"""Where the harness's units of work run: in this process (``local``, the default) or as tasks on a Ray
cluster (``ray``: ``miabench run --executor ray [--address ADDR]``).

A unit of work is one group of models to train (:class:`Unit`). It trains its group and saves the
group's part, checksummed and atomically, into the cache entry's work folder; the driver then reads
every part back and stores the entry as it always has (:func:`miabench.harness.train_all`). Parts go
through that folder, a path every node sees (a shared filesystem), rather than back through Ray's
object store, because the cache already makes them safe to resume from: a part is either whole and
checksummed or absent, so a run killed anywhere (the driver, a worker, the whole cluster) resumes from
the groups that are done, and a task that Ray retries (``max_retries``) finds its group's part, or
its epoch checkpoint, and does not train again what was finished. Through the object store a
finished group would live only as long as the driver that holds it.

Ray is imported only when the ``ray`` executor is chosen; without it the run stops with one line
saying how to install it (``pip install 'miabench[ray]'``).
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

from miabench.errors import UserError

EXECUTORS = ("local", "ray")
INSTALL = "pip install 'miabench[ray]'"
MAX_RETRIES = 3  # Ray's retries of a failed unit (a crashed worker or an exception) before the run gives up

# What one unit asks the cluster for, by track: a group on the CPU track trains on one core (Ray sets the
# task's torch threads to it; the thread count changes no bit, see miabench.leaderboard.verify), so a node of
# C cores trains C groups at once; on the GPU track each group has a GPU to itself.
RESOURCES = {"cpu": {"num_cpus": 1}, "gpu": {"num_cpus": 1, "num_gpus": 1}}


@dataclass(frozen=True)
class Unit:
    """One unit of work: train the models ``indices`` and save their part at ``part`` (absolute paths,
    so that a worker on another node writes where the driver reads), checkpointing each epoch to
    ``checkpoint`` so that a retried unit resumes from its last epoch."""

    indices: tuple[int, ...]
    part: Path
    checkpoint: Path


def label(unit: Unit, total: int) -> str:
    from miabench.harness import models_label

    return models_label(list(unit.indices), total)


class LocalExecutor:
    """Every unit in this process, one after another (the default)."""

    name = "local"

    def train(self, setup, units: list[Unit], progress: bool, bar, label_prefix: str = "") -> None:
        from miabench import harness

        total, epochs = setup.plan.num_models, setup.recipe.epochs
        done = bar.n
        for unit in units:
            bar.set_description(f"{label_prefix}train {label(unit, total)}")
            harness.train_unit(setup, unit, progress, bar)
            done += len(unit.indices) * epochs
            bar.update(done - bar.n)  # exact after each group, whatever the defense's loop counted


def require_ray():
    """The ``ray`` module, or a UserError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--executor ray needs Ray, which is not installed here: {INSTALL}") from None
    return ray


def connect(address: str | None):
    """Ray, connected: to the cluster at ``address`` (``auto``: the one ``ray start`` began on this machine),
    else to the instance this process already has, else to a fresh local one."""
    ray = require_ray()
    if not ray.is_initialized():
        try:
            if address is None:
                ray.init(include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        except ConnectionError as error:
            raise UserError(f"cannot reach the Ray cluster at {address} ({error}); start one with 'ray start "
                            "--head' and give the address it prints, or leave --address out") from None  # fmt: skip
    return ray


def run_unit(setup, unit: Unit) -> str | None:
    """A unit as a Ray task runs it: None when its part is saved; a user error's message is returned, not
    raised, so that Ray does not retry what would fail again (a diverging recipe); anything else raises and
    is retried."""
    import torch

    from miabench import harness

    if setup.device.type == "cuda":  # Ray gives the task its GPU as the only visible one
        setup = dataclasses.replace(setup, device=torch.device("cuda"))
    try:
        harness.train_unit(setup, unit, progress=False)
    except UserError as error:
        return str(error)
    return None


class RayExecutor:
    """Each unit a Ray task, with the track's resource request and ``max_retries``; the driver waits for all,
    so that every group that can finish is saved before a failure is reported."""

    name = "ray"

    def __init__(self, address: str | None = None, track: str = "cpu", max_retries: int = MAX_RETRIES):
        self.address, self.track, self.max_retries = address, track, max_retries
        self.resources = dict(RESOURCES[track])

    def train(self, setup, units: list[Unit], progress: bool, bar, label_prefix: str = "") -> None:
        if not units:
            return
        ray = connect(self.address)
        total, epochs = setup.plan.num_models, setup.recipe.epochs
        task = ray.remote(run_unit).options(
            max_retries=self.max_retries, retry_exceptions=True, **self.resources
        )  # fmt: skip
        shared = ray.put(setup)  # the population goes to the object store once, not once per unit
        pending = {task.remote(shared, unit): unit for unit in units}
        bar.set_description(f"{label_prefix}train {len(units)} groups on Ray")
        failures = []
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            unit = pending.pop(ref)
            try:
                problem = ray.get(ref)
            except Exception as error:  # noqa: BLE001 -- a task that failed after its retries
                cause = str(getattr(error, "cause", None) or error).strip().splitlines()
                problem = f"it failed after {self.max_retries} retries ({cause[-1] if cause else type(error).__name__})"
            if problem is not None:
                failures.append(f"{label(unit, total)}: {problem}")
                continue
            bar.update(len(unit.indices) * epochs)
            if progress:
                bar.write(f"{label_prefix}{label(unit, total)}: trained on Ray", file=sys.stderr)
        if failures:
            raise UserError(
                f"{len(failures)} of {len(units)} groups did not train: {failures[0]}; the groups that finished are "
                "saved in the cache: run the same command again to train only the rest"
            )


def create(name: str = "local", address: str | None = None, track: str = "cpu"):
    """The executor named ``name`` (one of EXECUTORS)."""
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        require_ray()  # before any data loads
        return RayExecutor(address, track)
    raise UserError(f"unknown executor '{name}'; choose one of {', '.join(EXECUTORS)}")
