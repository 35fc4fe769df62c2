"""CIFAR-10 (Krizhevsky, 2009) with a fast airbench-style convolutional network.

Two tracks share the task: the GPU track trains 64 models of the full-width network
on the whole 50,000-image train set (each on half of it); the CPU track trains 16
narrower models on a 10,000-image population so that it runs on two cores. The data
comes from the local JPEG copy (lossy) when a data folder is given, else from the
lossless Hub original; the two have different fingerprints and record their source,
so their results never mix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from miabench.api import DataPin, Population, Profile, Recipe, Task, TaskMetadata
from miabench.data import deduplicate, fingerprint, split
from miabench.params import param
from miabench.registry import tasks
from miabench.tasks import cifar10_data

# Per-channel mean and std of the CIFAR-10 train set (0..1 scale): inputs are standardised with them.
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


class Scale(nn.Module):
    """Multiplies by a constant: keeps the initial logits small without a parameter."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class ConvGroup(nn.Module):
    """Conv, 2x2 max-pool, BatchNorm, GELU; then a second conv block added back (a residual)."""

    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(channels_out)
        self.activation = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activation(self.norm1(self.pool(self.conv1(x))))
        return x + self.activation(self.norm2(self.conv2(x)))


def airbench_net(width: int, classes: int = 10) -> nn.Module:
    """After airbench (Jordan, 2024): a 2x2 stem, three conv groups (width, 4w, 4w), max-pool, linear.

    32x32 inputs: 31 after the stem, then 15, 7 and 3 after the groups, 1 after the last pool.
    Every layer is channel-separable, so K copies train as one grouped network.
    """
    stem, wide = max(3, 3 * width // 8), 4 * width
    return nn.Sequential(
        nn.Conv2d(3, stem, 2),
        nn.GELU(),
        ConvGroup(stem, width),
        ConvGroup(width, wide),
        ConvGroup(wide, wide),
        nn.MaxPool2d(3),
        nn.Flatten(),
        nn.Linear(wide, classes, bias=False),
        Scale(1 / 9),
    )


def standardise(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, 32, 32, 3]`` -> float32 ``[N, 3, 32, 32]`` with zero mean and unit std per channel."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]


@tasks.register("cifar10")
@dataclass
class Cifar10Task(Task):
    population_size: int = param(5000, "examples drawn from the train set (the GPU track takes all 50,000)",
                                 within="[1, inf)")  # fmt: skip
    test_size: int = param(1000, "examples drawn from the test set (the GPU track takes all 10,000)", within="[1, inf)")
    width: int = param(16, "channels of the first conv group (the GPU track: 64, as airbench)", within="[1, inf)")

    metadata = TaskMetadata(
        name="cifar10",
        version="1.0",
        description="CIFAR-10: classify 32x32 colour images into 10 classes with an airbench-style CNN",
        citation=("krizhevsky2009learning",),
        license="none formal",
        source=f"hf:{cifar10_data.HUB_NAME}",
        revision=cifar10_data.REVISION,
        model_family="airbench-cnn",
        num_classes=10,
        default_models=16,
        class_names=cifar10_data.CLASS_NAMES,
        reported_utility="test accuracy 94.0% (airbench94 on all 50,000 lossless training images, one A100; the CPU "
        "track trains each model on about 2,250 JPEG images, so it is not comparable) [jordan2024airbench]",
        pinned_data={  # the JPEG copy's (the Hub's lossless images give another fingerprint)
            "cpu": DataPin(5000, "50dd20dd121b11c43e9ea8fe4f70287c8e5f89bc87b378db97b0b41a91dd0c91"),
            "gpu": DataPin(50000, "a19dfd6dde310e87385cad403116dad2286ea64f2a0270bd6bc82fcbf1f4b8ad"),
        },
    )
    # CPU track: SGD with warm-up and annealing, mirror and 2-pixel translations (lr tuned on the CPU track).
    pinned_recipe = Recipe(
        epochs=20, batch_size=128, lr=0.4, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
        schedule="triangle", flip=True, translate=2,
    )  # fmt: skip
    recipe_grid: ClassVar[dict] = {"lr": (0.4, 0.2), "epochs": (10, 20), "weight_decay": (5e-4, 1e-3)}
    gpu_profile = Profile(
        recipe=Recipe(
            epochs=16, batch_size=512, lr=0.8, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
            schedule="triangle", flip=True, translate=2,
        ),
        models=64,
        params={"population_size": 50000, "test_size": 10000, "width": 64},
    )  # fmt: skip
    augmentations = ("identity", "mirror")  # LiRA's two queries, from the same pass

    @property
    def model_family(self) -> str:
        return f"airbench-cnn-w{self.width}"

    def load(self, data_dir: Path | None, progress: bool = True) -> Population:
        source, arrays = cifar10_data.load(data_dir, self.metadata.revision, progress)
        kept = deduplicate(arrays.x_train)  # a duplicate on both sides would corrupt membership labels
        chosen, test = split(kept, self.test_size, self.population_size, task=self.metadata.name,
                             test_split=len(arrays.y_test))  # fmt: skip
        x, y = arrays.x_train[chosen], arrays.y_train[chosen]
        x_test, y_test = arrays.x_test[test], arrays.y_test[test]
        return Population(
            x=standardise(x),
            y=torch.from_numpy(y),
            x_test=standardise(x_test),
            y_test=torch.from_numpy(y_test),
            ids=arrays.ids_train[chosen],
            fingerprint=fingerprint(x, y, x_test, y_test, np.frombuffer(source.encode(), np.uint8)),
            source=source,
        )

    def training_strategy(self, device: torch.device) -> str:
        # On the CPU one model at a time is fastest (results/benchmarks/harness-cpu-cifar10-K8-epochs2.json:
        # 8.2 models/min against 4.6 grouped and 3.9 stacked); on a GPU the grouped network fills the device.
        return "grouped" if device.type == "cuda" else "sequential"

    def make_model(self) -> nn.Module:
        return airbench_net(self.width, self.metadata.num_classes)

    def augment(self, x: torch.Tensor, view: int) -> torch.Tensor:
        if view == 0:
            return x
        if view == 1:
            return x.flip(-1)
        raise IndexError(view)
