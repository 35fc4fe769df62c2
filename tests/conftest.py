"""Shared fixtures and helpers: where the offline copies of the real datasets are, the default run,
and tiny synthetic tasks for fast tests of the engine and the harness."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from miabench.api import Population, Recipe, Task, TaskMetadata
from miabench.data import fingerprint
from miabench.defenses.none import NoDefense
from miabench.harness import Setup
from miabench.plan import MembershipPlan


@dataclass
class ToyTask(Task):
    examples: int = 120
    noise: float = 1.0  # overlapping classes, so models memorise their members

    metadata = TaskMetadata(
        name="toy",
        version="0",
        description="Gaussian blobs",
        citation=(),
        license="n/a",
        source="synthetic",
        model_family="mlp-32",
        num_classes=3,
        default_models=4,
    )
    pinned_recipe = Recipe(epochs=4, batch_size=16, lr=1e-2)
    augmentations = ("identity", "negated-noise")

    def load(self, data_dir: Path | None, progress: bool = True) -> Population:
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


def make_toy_task(**params) -> ToyTask:
    task = ToyTask(**params)
    task.name = "toy"
    return task


def make_no_defense() -> NoDefense:
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

    def load(self, data_dir: Path | None, progress: bool = True) -> Population:
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


def make_toy_image_task(**params) -> ToyImageTask:
    task = ToyImageTask(**params)
    task.name = "toy-image"
    return task


def make_toy_setup(seed=0, models=4, task=None, defense=None, strategy=None, **task_params) -> Setup:
    """Everything that determines K toy models: ``task`` (default: the toy task with ``task_params``),
    its population and a balanced plan, on the CPU."""
    task = task or make_toy_task(**task_params)
    population = task.load(None)
    plan = MembershipPlan.balanced(models, len(population), seed)
    defense = defense or make_no_defense()
    return Setup(task, population, plan, defense, task.recipe(), seed, torch.device("cpu"), strategy)


@pytest.fixture
def toy_setup():
    """``toy_setup(seed=0, models=4, task=None, defense=None, strategy=None, **task_params)``: a harness Setup."""
    return make_toy_setup


@pytest.fixture
def toy_task():
    """``toy_task(**params)``: a fresh Gaussian-blobs task (3 classes, 8 features)."""
    return make_toy_task


@pytest.fixture
def toy_image_task():
    """``toy_image_task(**params)``: a fresh 3x8x8 image task with BatchNorm, a residual and augmentation."""
    return make_toy_image_task


@pytest.fixture
def no_defense():
    """``no_defense()``: the 'none' defense, named as the registry names it."""
    return make_no_defense


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``$MIABENCH_DATA_DIR`` (CI sets it), else ``<repo>/../shared/data``; skip the test when neither exists."""
    path = Path(
        os.environ.get("MIABENCH_DATA_DIR") or Path(__file__).resolve().parents[1].parent / "shared" / "data"
    ).resolve()
    if not path.is_dir():
        pytest.skip(f"no offline data at {path}: set MIABENCH_DATA_DIR to the shared data folder")
    return path


@pytest.fixture(scope="session")
def location_run(data_dir, tmp_path_factory):
    """The default benchmark (real Location-30 data, K = 16), run once for the session."""
    import miabench

    root = tmp_path_factory.mktemp("location-run")
    records = miabench.evaluate(
        models=16, data_dir=data_dir, out=root / "out", cache_dir=root / "cache", progress=False
    )
    return {record.attack.name: record for record in records} | {"root": root}


def make_synthetic_cube(models=16, examples=400, seed=0, auxiliary=0):
    """Two-class logits ``[K, N, 1, 2]`` whose log-odds phi = difficulty + 1.5 * member + noise, with
    labels (all 1) and the balanced plan.

    Difficulty varies across examples far more than membership moves phi, so a global loss
    threshold is weak and per-example calibration (LiRA) is strong.
    """
    rng = np.random.default_rng(seed)
    plan = MembershipPlan.balanced(models, examples, seed, auxiliary)
    members = plan.members
    difficulty = rng.normal(0, 4, examples)
    phi = difficulty + 1.5 * members + rng.normal(0, 0.5, members.shape)
    logits = np.zeros((models, examples, 1, 2), np.float32)
    logits[..., 0, 1] = phi
    return logits, np.ones(examples, np.int64), plan


@pytest.fixture
def synthetic_cube():
    """``synthetic_cube(models=16, examples=400, seed=0, auxiliary=0)``: (logits, labels, plan) where
    per-example difficulty dwarfs the members' boost."""
    return make_synthetic_cube
