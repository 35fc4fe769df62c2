"""Harness tracks (--profile) and the environment fingerprint every record carries."""

import dataclasses
import types

import pytest
import torch

from miabench import cli, results, runner
from miabench import device as devices
from miabench.errors import UserError
from miabench.tasks.cifar10 import Cifar10Task

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")


@no_gpu
def test_gpu_profile_without_a_gpu_fails_with_one_clear_line(capsys):
    assert cli.main(["run", "--profile", "gpu", "--quiet"]) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message
    assert "--profile gpu" in message and "--profile cpu" in message


@no_gpu
def test_auto_profile_is_the_cpu_track_without_a_gpu():
    assert runner.resolve_profile("auto", "auto") == ("cpu", torch.device("cpu"))
    assert runner.resolve_profile(None, None)[0] == "cpu"


def test_unknown_profile_is_refused():
    with pytest.raises(UserError, match="cpu, gpu or auto"):
        runner.resolve_profile("tpu", None)


def test_cifar10_gpu_track_pins_the_full_airbench_setting():
    task = Cifar10Task()
    gpu, cpu = task.profile("gpu"), task.profile("cpu")
    assert gpu.models == 64 and cpu.models == 16
    assert gpu.params == {"population_size": 50000, "test_size": 10000, "width": 64}
    assert task.recipe("gpu") == gpu.recipe and task.recipe("cpu") == task.pinned_recipe
    assert gpu.recipe.flip and gpu.recipe.translate == 2  # augmentation on the device
    assert runner.track_params(Cifar10Task, "gpu") == gpu.params and runner.track_params(Cifar10Task, "cpu") == {}
    assert Cifar10Task(epochs=3).recipe("gpu") == dataclasses.replace(gpu.recipe, epochs=3)


def test_a_task_without_a_gpu_profile_uses_its_pinned_recipe_on_both_tracks():
    from miabench.tasks.location import LocationTask

    task = LocationTask()
    assert task.profile("gpu") == task.profile("cpu")
    assert task.profile("gpu").recipe == task.pinned_recipe and task.profile("gpu").models == 16


def test_record_carries_its_track_what_it_overrode_and_the_environment(data_dir, tmp_path):
    (record,) = runner.run(
        task="location", attacks=["loss"], models=4, params={"epochs": "2"}, data_dir=data_dir,
        out=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False, profile="cpu",
    )  # fmt: skip
    assert record["profile"] == {"name": "cpu", "overrides": {"epochs": 2, "models": 4}}
    assert record["precision"] == "fp32"
    assert record["task"]["data_source"] == "local copy"
    assert record["timings"]["strategy"] == "stacked"
    environment = record["environment"]
    assert environment["device"] == "cpu" and environment["threads"] >= 1 and environment["cpu"]
    assert environment["torch"] == torch.__version__
    assert len(environment["fingerprint"]) == 16


def test_gpu_hardware_facts_enter_the_fingerprint(monkeypatch):
    def properties(name):
        return types.SimpleNamespace(name=name, total_memory=80 * 2**30, major=9, minor=0)

    monkeypatch.setattr(devices, "nvidia_driver", lambda: "550.54.15")
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: properties("NVIDIA H100 80GB HBM3"))
    facts = devices.hardware(torch.device("cuda"))
    assert facts["gpu"] == facts["device"] == "NVIDIA H100 80GB HBM3"
    assert facts["driver"] == "550.54.15" and facts["compute_capability"] == "9.0" and facts["gpu_memory_gib"] == 80
    assert {"cuda", "cudnn", "cpu", "threads"} <= set(facts)
    h100 = results.environment(facts)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: properties("NVIDIA H200"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    h200 = results.environment(devices.hardware(torch.device("cuda")))
    assert h100["fingerprint"] != h200["fingerprint"]
    assert results.environment(facts)["fingerprint"] == h100["fingerprint"]  # stable


def test_unknown_strategy_is_one_line(data_dir, tmp_path):
    with pytest.raises(UserError, match="--strategy"):
        runner.run(task="location", models=4, data_dir=data_dir, strategy="pipelined", cache_dir=tmp_path)
