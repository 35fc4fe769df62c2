"""Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 28x28 grey photos of clothing, 10 classes, with MNIST's CNN."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from miabench.api import DataPin, TaskMetadata
from miabench.data import reading, require_file
from miabench.errors import UserError
from miabench.registry import tasks
from miabench.tasks.mnist import MnistTask, read_hub

HUB_NAME = "zalando-datasets/fashion_mnist"
FOLDER = "fashion-mnist"
FILES = {  # split -> (images, labels), the published names
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
NUM_CLASSES = 10
CLASS_NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")

SOURCE = "github.com/zalandoresearch/fashion-mnist"  # where the idx files are published
_FIX = f"replace it with the file of the same name from {HUB_NAME} or {SOURCE}"


def read_idx(path: str | Path, magic: int) -> np.ndarray:
    """The uint8 array of a gzipped idx file: big-endian ``magic`` (type and rank), one uint32 a dimension, data."""
    with reading(path, SOURCE), gzip.open(path, "rb") as handle:
        raw = handle.read()
    rank = magic & 0xFF
    header = 4 * (1 + rank)
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        found = raw[:4].hex() if len(raw) >= 4 else "a truncated header"
        raise UserError(f"{path} is not an idx file with magic {magic:08x} (found {found}): {_FIX}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=rank, offset=4))
    if len(raw) - header != int(np.prod(shape)):
        raise UserError(
            f"{path} holds {len(raw) - header} data bytes, not the {int(np.prod(shape))} its header {shape} "
            f"announces: {_FIX}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_split(images_path: str | Path, labels_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, 28, 28]`` uint8 and labels ``[N]`` uint8 (0..9) from a pair of gzipped idx files."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise UserError(f"{images_path} holds images of {images.shape[1:]} pixels, not 28x28: {_FIX}")
    if len(images) != len(labels):
        raise UserError(f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels: {_FIX}")
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise UserError(f"{labels_path} holds label {labels.max()}, outside 0..{NUM_CLASSES - 1}: {_FIX}")
    return images, labels


def read_local(data_dir: str | Path) -> tuple[np.ndarray, ...]:
    """``x_train, y_train, x_test, y_test`` from the four published files under ``data_dir/fashion-mnist``."""
    arrays = []
    for split in ("train", "test"):
        paths = [
            require_file(data_dir, f"{FOLDER}/{name}", f"load {HUB_NAME} from the Hugging Face Hub")
            for name in FILES[split]
        ]
        arrays.extend(read_split(*paths))
    return tuple(arrays)


@tasks.register("fashion-mnist")
@dataclass
class FashionMnistTask(MnistTask):
    """MNIST's model, recipe, views and defaults on Fashion-MNIST; only the data differs."""

    metadata = TaskMetadata(
        name="fashion-mnist",
        version="1.0",
        description="Fashion-MNIST: classify 28x28 grey photos of Zalando articles into 10 classes with a small CNN",
        citation=("xiao2017fashion",),
        license="MIT",
        source=f"hf:{HUB_NAME}",
        revision=None,  # unpinned: no commit of the Hub copy could be verified offline
        model_family="cnn-16-32",
        num_classes=NUM_CLASSES,
        default_models=16,
        class_names=CLASS_NAMES,
        reported_utility="test accuracy 91.6% (two convolutional layers with max pooling, over 300 epochs; the "
        "dataset's benchmark table) [xiao2017fashion]",
        pinned_data={"cpu": DataPin(10000, "96075ac5316f6b66ddd00bde710515bd5349285a277e4dbdf3ec3181026318dc")},
    )

    def read(self, data_dir: Path | None) -> tuple[np.ndarray, ...]:
        if data_dir is None:
            local = f"{FOLDER}/{FILES['train'][0]} and the other three idx files"
            return read_hub(HUB_NAME, local, self.metadata.revision)
        return read_local(data_dir)
