"""Location-30 (Shokri et al., S&P 2017): Foursquare check-ins in Bangkok, 446 binary features, 30 classes."""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn

from miabench.api import DataPin, Population, Recipe, Task, TaskMetadata
from miabench.data import deduplicate, download, fingerprint, reading, require_file, split
from miabench.errors import UserError
from miabench.params import param
from miabench.registry import tasks

URL = "https://github.com/privacytrustlab/datasets/raw/master/dataset_location.tgz"
RELATIVE_PATH = "location/dataset_location.tgz"
NUM_FEATURES = 446
NUM_CLASSES = 30


def read_location_tgz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[N, 446]`` float32 and labels ``[N]`` int64 in 0..29 from the ``bangkok`` CSV in the tarball."""
    with reading(path, URL), tarfile.open(path, "r:gz") as archive:
        member = next((m for m in archive.getmembers() if m.isfile() and Path(m.name).name == "bangkok"), None)
        if member is None:
            raise UserError(f"{path} holds no file 'bangkok': replace it with the tarball from {URL}")
        # No header; pandas strips the quotes around the class column ("13").
        frame = pd.read_csv(archive.extractfile(member), header=None)
    values = frame.to_numpy()
    if values.shape[1] != NUM_FEATURES + 1 or not np.isin(values[:, 0], np.arange(1, NUM_CLASSES + 1)).all():
        raise UserError(
            f"{path}: 'bangkok' is not a class (1..{NUM_CLASSES}) plus {NUM_FEATURES} features a row; "
            f"replace it with the tarball from {URL}"
        )
    return values[:, 1:].astype(np.float32), values[:, 0].astype(np.int64) - 1


@tasks.register("location")
@dataclass
class LocationTask(Task):
    test_size: int = param(1000, "examples held out for utility; the rest is the population", within="[1, inf)")

    metadata = TaskMetadata(
        name="location",
        version="1.0",
        description="Location-30: predict one of 30 Foursquare location classes in Bangkok from 446 binary features",
        citation=("shokri2017membership",),
        license="none stated",
        source=URL,
        model_family="mlp-256-128",
        num_classes=NUM_CLASSES,
        default_models=16,
        pinned_data={"cpu": DataPin(4010, "4a6498de542de120769856a40e018c400d043eee756efc2e668aa87029590f3f")},
    )
    pinned_recipe = Recipe(epochs=30, batch_size=128, lr=1e-3, optimizer="adam")
    recipe_grid: ClassVar[dict] = {"lr": (1e-3, 3e-4), "epochs": (10, 30), "weight_decay": (0.0, 1e-4, 1e-3),
                   "balanced_batches": (False, True)}  # fmt: skip
    augmentations = ("identity",)

    def load(self, data_dir: Path | None, progress: bool = True) -> Population:
        if data_dir is None:
            path = download(URL, "dataset_location.tgz", local_copy=RELATIVE_PATH)
        else:
            path = require_file(data_dir, RELATIVE_PATH, f"download it from {URL}")
        x, y = read_location_tgz(path)

        kept = deduplicate(x)  # a duplicate on both sides of the split would corrupt membership labels
        ids, test = split(kept, self.test_size, task=self.metadata.name)

        return Population(
            x=torch.from_numpy(x[ids]),
            y=torch.from_numpy(y[ids]),
            x_test=torch.from_numpy(x[test]),
            y_test=torch.from_numpy(y[test]),
            ids=ids,
            fingerprint=fingerprint(x[ids], y[ids], x[test], y[test]),
        )

    def make_model(self) -> nn.Module:
        return nn.Sequential(
            nn.Linear(NUM_FEATURES, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, NUM_CLASSES),
        )
