"""MNIST (LeCun et al., 1998): 28x28 grey handwritten digits, 10 classes, with a small CNN."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from miabench.api import DataPin, Population, Recipe, Task, TaskMetadata
from miabench.data import deduplicate, fingerprint, load_hub, reading, require_file, split
from miabench.params import param
from miabench.registry import tasks

HUB_NAME = "ylecun/mnist"
RELATIVE_PATH = "mnist/mnist.npz"
NUM_CLASSES = 10


def hub_to_arrays(split) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, 28, 28]`` uint8 and labels ``[N]`` uint8 from a Hub split (``image`` PIL, ``label``)."""
    images = np.stack([np.asarray(image.convert("L"), dtype=np.uint8) for image in split["image"]])
    labels = np.asarray(split["label"], dtype=np.uint8)
    return images, labels


def read_hub(hub_name: str, local_files: str, revision: str | None) -> tuple[np.ndarray, ...]:
    """``x_train, y_train, x_test, y_test`` of a Hub dataset in MNIST's layout (``image``, ``label``) at ``revision``."""
    splits = load_hub(hub_name, local_files, revision=revision)
    return (*hub_to_arrays(splits["train"]), *hub_to_arrays(splits["test"]))


def _read_npz(data_dir: Path) -> tuple[np.ndarray, ...]:
    path = require_file(data_dir, RELATIVE_PATH, f"load {HUB_NAME} from the Hugging Face Hub")
    with reading(path, f"huggingface.co/datasets/{HUB_NAME}"), np.load(path, allow_pickle=False) as arrays:
        return tuple(arrays[key] for key in ("x_train", "y_train", "x_test", "y_test"))


def _to_tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # [N, 1, 28, 28] in [0, 1]
    return x, torch.from_numpy(labels.astype(np.int64))


@tasks.register("mnist")
@dataclass
class MnistTask(Task):
    population_size: int = param(10000, "examples drawn from the official train set", within="[1, inf)")
    test_size: int = param(10000, "the first examples of the official test set, held out for utility",
                           within="[1, inf)")  # fmt: skip

    metadata = TaskMetadata(
        name="mnist",
        version="1.0",
        description="MNIST: classify 28x28 handwritten digits into 10 classes with a small CNN",
        citation=("lecun1998gradient",),
        license="CC BY-SA 3.0",
        source=f"hf:{HUB_NAME}",
        revision="77f3279092a1c1579b2250db8eafed0ad422088c",
        model_family="cnn-16-32",
        num_classes=NUM_CLASSES,
        default_models=16,
        reported_utility="test accuracy 99.3% (two convolutional layers, 113k parameters; the Fashion-MNIST benchmark "
        "table, a user submission) [xiao2017fashion]",
        pinned_data={"cpu": DataPin(10000, "010faf3620a530258a25986e9eeae13ced066af2fcbdee3534cef5a1ca78e539")},
    )
    pinned_recipe = Recipe(epochs=10, batch_size=128, lr=1e-3, optimizer="adam")
    recipe_grid: ClassVar[dict] = {"lr": (1e-3, 3e-4), "epochs": (5, 10), "weight_decay": (0.0, 1e-4)}
    augmentations = ("identity", "shift-right-1")

    def read(self, data_dir: Path | None) -> tuple[np.ndarray, ...]:
        """``x_train, y_train, x_test, y_test`` (uint8) from the local copy, or the Hub when ``data_dir`` is None."""
        return read_hub(HUB_NAME, RELATIVE_PATH, self.metadata.revision) if data_dir is None else _read_npz(data_dir)

    def load(self, data_dir: Path | None, progress: bool = True) -> Population:
        x_train, y_train, x_test, y_test = self.read(data_dir)

        kept = deduplicate(x_train)  # a duplicate on both sides would corrupt membership labels
        ids, test = split(kept, self.test_size, self.population_size, task=self.metadata.name,
                          test_split=len(y_test), shuffle_test=False)  # fmt: skip

        x, y = _to_tensors(x_train[ids], y_train[ids])
        x_held, y_held = _to_tensors(x_test[test], y_test[test])
        return Population(
            x=x,
            y=y,
            x_test=x_held,
            y_test=y_held,
            ids=ids,
            fingerprint=fingerprint(x.numpy(), y.numpy(), x_held.numpy(), y_held.numpy()),
        )

    def training_strategy(self, device: torch.device) -> str:
        # On the CPU one model at a time is fastest (results/benchmarks/harness-cpu-mnist-K8-epochs2.json:
        # 10.2 models/min against 8.2 grouped and 6.7 stacked); a GPU needs the batch of all K to fill it.
        return "grouped" if device.type == "cuda" else "sequential"

    def make_model(self) -> nn.Module:
        # No BatchNorm or dropout: the engine trains K copies stacked under torch.func.vmap.
        return nn.Sequential(
            nn.Conv2d(1, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, NUM_CLASSES),
        )

    def augment(self, x: torch.Tensor, view: int) -> torch.Tensor:
        if view == 0:
            return x
        if view == 1:
            # Pad a zero column on the left and drop the rightmost one: every pixel moves one to the right.
            return F.pad(x, (1, 0))[..., :-1]
        raise IndexError(view)
