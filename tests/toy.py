"""A tiny synthetic task for fast tests of the engine and the harness."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from miabench.api import Population, Recipe, Task, TaskMetadata
from miabench.data import fingerprint
from miabench.defenses.none import NoDefense


@dataclass
class ToyTask(Task):
    examples: int = 120
    noise: float = 1.0  # overlapping classes, so models memorise their members

    metadata = TaskMetadata(
        name="toy",
        version="0",
        description="Gaussian blobs",
        citation="",
        license="n/a",
        source="synthetic",
        model_family="mlp-32",
        num_classes=3,
        default_models=4,
    )
    pinned_recipe = Recipe(epochs=4, batch_size=16, lr=1e-2)
    augmentations = ("identity", "negated-noise")

    def load(self, data_dir: Path | None) -> Population:
        rng = np.random.default_rng(0)
        y = rng.integers(0, 3, self.examples + 60)
        x = (rng.normal(size=(len(y), 8)) * self.noise + np.eye(3, 8)[y]).astype(np.float32)
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        n = self.examples
        return Population(x[:n], y[:n], x[n:], y[n:], np.arange(n), fingerprint(x.numpy(), y.numpy()))

    def make_model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))

    def augment(self, x: torch.Tensor, view: int) -> torch.Tensor:
        return x if view == 0 else x * 0.9


def toy_task(**params) -> ToyTask:
    task = ToyTask(**params)
    task.name = "toy"
    return task


def no_defense() -> NoDefense:
    defense = NoDefense()
    defense.name = "none"
    return defense


class ToyConvNet(nn.Module):
    """Conv, BatchNorm, a residual block, pooling and a linear head: every kind of layer the engine groups."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.GELU())
        self.head = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return self.head(x + self.block(x))


@dataclass
class ToyImageTask(ToyTask):
    """3x8x8 images whose class shows as a brighter channel, trained with mirror and translation."""

    pinned_recipe = Recipe(epochs=3, batch_size=16, lr=0.05, optimizer="sgd", schedule="triangle", flip=True,
                           translate=1)  # fmt: skip
    augmentations = ("identity", "mirror")

    def load(self, data_dir: Path | None) -> Population:
        rng = np.random.default_rng(0)
        y = rng.integers(0, 3, self.examples + 60)
        x = rng.normal(size=(len(y), 3, 8, 8)) * self.noise
        x[np.arange(len(y)), y] += 1.0
        x, y = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)
        n = self.examples
        return Population(x[:n], y[:n], x[n:], y[n:], np.arange(n), fingerprint(x.numpy(), y.numpy()))

    def make_model(self) -> nn.Module:
        return ToyConvNet()

    def augment(self, x: torch.Tensor, view: int) -> torch.Tensor:
        return x if view == 0 else x.flip(-1)


def toy_image_task(**params) -> ToyImageTask:
    task = ToyImageTask(**params)
    task.name = "toy-image"
    return task
