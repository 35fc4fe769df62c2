"""The executor seam: groups of models trained as Ray tasks give the local executor's signals bit for bit;
a failed unit is retried by Ray without redoing the finished groups; a run that failed resumes from the
groups that finished; without Ray the ``ray`` executor says how to install it.

The Ray tests start one local instance for the module (``ray.init(num_cpus=2)``, no dashboard, no network).
"""

from __future__ import annotations

import builtins
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from miabench import executors
from miabench.cache import SignalsCache
from miabench.cli import main
from miabench.defenses.none import NoDefense
from miabench.errors import UserError
from miabench.harness import compute_signals


@dataclass
class LoggedDefense(NoDefense):
    """No defense (its cache key is the undefended one's), but each attempt at a group is logged to ``log``,
    a file every worker sees; the first attempt at the group of model ``fail_first`` raises, as a crashed
    task would, and every attempt at the group of ``fail_always`` does."""

    log: str = ""
    fail_first: int = -1
    fail_always: int = -1

    def fit(self, job):
        with open(self.log, "a") as handle:  # one small append: workers training at once each add their line
            handle.write(json.dumps(list(job.indices)) + "\n")
        tries = attempted(self.log).count(list(job.indices))
        if self.fail_always in job.indices or (self.fail_first in job.indices and tries == 1):
            raise RuntimeError(f"a simulated crash training models {list(job.indices)}")
        return super().fit(job)

    def training_config(self) -> dict:
        return {"name": "none", "params": {}}


def attempted(log) -> list[list[int]]:
    path = Path(log)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def logged(tmp_path, **failing) -> LoggedDefense:
    defense = LoggedDefense(log=str(tmp_path / "groups.log"), **failing)
    defense.name = "none"
    return defense


@pytest.fixture(scope="module")
def ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def local_signals(tmp_path_factory):
    """The toy K = 4 cube trained by the local executor in two groups of two."""
    from tests.conftest import make_toy_setup

    cache = SignalsCache(tmp_path_factory.mktemp("local"))
    signals, info = compute_signals(make_toy_setup(), cache, models_per_group=2, progress=False)
    return signals, cache.load_weights(info["cache_key"])


def by_value(ray, setup):
    """``setup``, whose classes from the tests (which workers cannot import) Ray pickles by value."""
    import ray.cloudpickle

    for component in (setup.task, setup.defense):
        module = type(component).__module__
        if not module.startswith("miabench"):
            ray.cloudpickle.register_pickle_by_value(sys.modules[module])
    return setup


def same(signals, reference) -> None:
    assert np.array_equal(signals.logits, reference.logits)  # bit for bit, not within a tolerance
    assert np.array_equal(signals.test_logits, reference.test_logits)


def test_ray_gives_the_local_signals_bit_for_bit(ray, local_signals, toy_setup, tmp_path):
    cache = SignalsCache(tmp_path)
    signals, info = compute_signals(by_value(ray, toy_setup()), cache, 2, False, executor=executors.RayExecutor())
    same(signals, local_signals[0])
    weights = cache.load_weights(info["cache_key"])
    assert weights.keys() == local_signals[1].keys()
    assert all(np.array_equal(weights[name], local_signals[1][name]) for name in weights)
    assert not cache.work_dir(info["cache_key"]).exists()  # the driver stored the entry from the parts


@pytest.mark.filterwarnings("ignore:attack .lira. runs with only")
def test_miabench_run_on_ray_gives_the_local_records(ray, tmp_path, data_dir):
    """``miabench run --executor ray`` on the real Location-30 data, K = 4 in two groups: the same scores."""
    from miabench import record

    args = ["run", "--task", "location", "--models", "4", "--models-per-group", "2", "--attack", "loss,lira",
            "--param", "epochs=1", "--track", "cpu", "--quiet", "--data-dir", str(data_dir)]  # fmt: skip
    for executor in ("local", "ray"):
        where = ["--executor", executor, "--cache-dir", str(tmp_path / executor), "--out", str(tmp_path / executor)]
        assert main(args + where) == 0
    for attack in ("loss", "lira"):
        local, on_ray = (record.read(tmp_path / executor / attack / "result.json") for executor in ("local", "ray"))
        assert local.scores_file.sha256 == on_ray.scores_file.sha256  # the very scores, bit for bit
        assert local.metrics == on_ray.metrics and local.scores_file.command == on_ray.scores_file.command


def test_a_failed_unit_is_retried_and_finished_groups_are_not_redone(ray, local_signals, toy_setup, tmp_path):
    defense = logged(tmp_path, fail_first=2)
    signals, _ = compute_signals(by_value(ray, toy_setup(defense=defense)), SignalsCache(tmp_path / "cache"), 2, False,
                                 executor=executors.RayExecutor(max_retries=1))  # fmt: skip
    assert sorted(attempted(defense.log)) == [[0, 1], [2, 3], [2, 3]]  # the crashed group twice, the other once
    same(signals, local_signals[0])


def test_a_run_whose_unit_keeps_failing_resumes_from_the_finished_groups(ray, local_signals, toy_setup, tmp_path):
    cache = SignalsCache(tmp_path / "cache")
    failing = logged(tmp_path, fail_always=2)
    with pytest.raises(UserError, match=r"1 of 2 groups did not train: models 3\.\.4 of 4: .*run the same command"):
        compute_signals(
            by_value(ray, toy_setup(defense=failing)), cache, 2, False, executor=executors.RayExecutor(max_retries=1)
        )
    assert sorted(attempted(failing.log)) == [[0, 1], [2, 3], [2, 3]]
    (work,) = cache.root.glob("signals/*/*/work")
    assert [path.name for path in work.glob("*.npz")] == ["models-0000-0001.npz"]  # kept, checksummed

    resumed, _ = compute_signals(by_value(ray, toy_setup(defense=logged(tmp_path))), cache, 2, False,
                                 executor=executors.RayExecutor())  # fmt: skip
    assert sorted(attempted(failing.log)) == [[0, 1], [2, 3], [2, 3], [2, 3]]  # only the missing group trained
    same(resumed, local_signals[0])


def test_ray_missing_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    real = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(UserError, match=r"pip install 'miabench\[ray\]'"):
        executors.create("ray")
    code = main(["run", "--executor", "ray", "--models", "4", "--quiet", "--cache-dir", str(tmp_path)])
    error = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in error
    assert (
        error == "miabench: error: --executor ray needs Ray, which is not installed here: pip install 'miabench[ray]'"
    )
    assert not list(tmp_path.iterdir())  # refused before anything loaded or trained


def test_the_local_executor_is_the_default_and_address_needs_ray():
    from miabench.spec import RunSpec

    assert RunSpec().executor == "local" and isinstance(executors.create(), executors.LocalExecutor)
    with pytest.raises(UserError, match="add --executor ray"):
        RunSpec(address="auto")


def test_resources_follow_the_track():
    assert executors.RayExecutor(track="cpu").resources == {"num_cpus": 1}
    assert executors.RayExecutor(track="gpu").resources == {"num_cpus": 1, "num_gpus": 1}
