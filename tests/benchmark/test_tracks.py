"""Harness tracks (--track) and the environment fingerprint every record carries."""

import dataclasses
import types

import pytest
import torch

import miabench
from miabench import cli, record, runner
from miabench import device as devices
from miabench.errors import UserError
from miabench.tasks.cifar10 import Cifar10Task

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")


@no_gpu
@pytest.mark.parametrize("flag", ["--track", "--profile"])  # --profile: the flag's former name
def test_gpu_track_without_a_gpu_fails_with_one_clear_line(capsys, flag):
    assert cli.main(["run", flag, "gpu", "--quiet"]) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message
    assert "--track gpu" in message and "--track cpu" in message


@no_gpu
def test_auto_track_is_the_cpu_track_without_a_gpu():
    assert runner.resolve_track("auto", "auto") == ("cpu", torch.device("cpu"))


def test_unknown_track_is_refused_before_anything_loads():
    with pytest.raises(UserError, match=r"'track' \(--track\): 'tpu' is not one of auto, cpu, gpu"):
        miabench.RunSpec(track="tpu")


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
    (written,) = miabench.evaluate(
        task="location", attacks=["loss"], models=4, params={"epochs": "2"}, data_dir=data_dir,
        out=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False, track="cpu",
    )  # fmt: skip
    assert written.track.model_dump() == {"name": "cpu", "overrides": {"epochs": 2, "models": 4}}
    assert written.precision == "fp32"
    assert written.task.data_source == "local copy"
    assert written.timings.strategy == "stacked"
    environment = written.environment
    assert environment.device == "cpu" and environment.threads >= 1 and environment.cpu
    assert environment.torch == torch.__version__
    assert len(environment.fingerprint) == 16


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
    h100 = record.environment(facts)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: properties("NVIDIA H200"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    h200 = record.environment(devices.hardware(torch.device("cuda")))
    assert h100["fingerprint"] != h200["fingerprint"]
    assert record.environment(facts)["fingerprint"] == h100["fingerprint"]  # stable


def test_unknown_strategy_is_one_line(capsys):
    assert cli.main(["run", "--models", "4", "--strategy", "pipelined", "--quiet"]) == 2
    message = capsys.readouterr().err.strip()
    assert (
        "'strategy' (--strategy): 'pipelined' is not one of stacked, grouped, sequential" in message
        and "\n" not in message
    )
