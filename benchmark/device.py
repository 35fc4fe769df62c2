"""Where models train: CUDA when present (in bf16 autocast), else the CPU."""

from __future__ import annotations

import contextlib
import platform
import subprocess

import torch

from miabench.errors import UserError


def pick(name: str | None = None) -> torch.device:
    """``None`` or ``"auto"`` picks CUDA when available; otherwise the named device."""
    if name in (None, "auto"):
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"--device {name}: no CUDA device is visible; use --device cpu or --device auto")
        torch.backends.cudnn.benchmark = True  # fixed shapes every step: let cuDNN pick its fastest kernels
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name}: not a device torch knows; use auto, cpu or cuda") from None


def precision(device: torch.device) -> str:
    """``bf16`` (mixed precision) on CUDA; ``fp32`` on the CPU, where results are bit-reproducible."""
    return "bf16" if device.type == "cuda" else "fp32"


def autocast(device: torch.device):
    """The context that trains and queries in the device's precision."""
    if precision(device) == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"


def hardware(device: torch.device) -> dict:
    """The facts of the hardware that can change a run's numbers or its speed (part of every record)."""
    facts = {"device": describe(device), "cpu": cpu_name(), "threads": torch.get_num_threads()}
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        facts |= {
            "gpu": properties.name,
            "gpu_memory_gib": round(properties.total_memory / 2**30, 1),
            "compute_capability": f"{properties.major}.{properties.minor}",
            "driver": nvidia_driver(),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
        }
    return facts


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
        return names[0] if names else platform.processor() or platform.machine()
    except OSError:  # not Linux
        return platform.processor() or platform.machine()


def nvidia_driver() -> str | None:
    try:
        query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
        return subprocess.run(query, capture_output=True, text=True, timeout=10, check=True).stdout.split()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None
