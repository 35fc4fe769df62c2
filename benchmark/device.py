"""Where models train: CUDA when present (in bf16 autocast), else the CPU."""

from __future__ import annotations

import contextlib

import torch

from miabench.errors import UserError


def pick(name: str | None = None) -> torch.device:
    """``None`` or ``"auto"`` picks CUDA when available; otherwise the named device."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is visible; use --device cpu or --device auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name}: not a device torch knows; use auto, cpu or cuda") from None


def autocast(device: torch.device):
    """bf16 mixed precision on CUDA; full float32 on the CPU, where results are bit-reproducible."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"
