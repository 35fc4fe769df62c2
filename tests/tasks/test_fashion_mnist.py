"""The fashion-mnist task: the idx format on tiny synthetic files, the Hub path, then the real copy."""

import gzip

import numpy as np
import pytest
import torch

from miabench import api, citations, data
from miabench.errors import UserError
from miabench.registry import tasks
from miabench.tasks import fashion_mnist
from miabench.tasks.fashion_mnist import FashionMnistTask, read_idx, read_split
from miabench.tasks.mnist import MnistTask


def write_idx(path, array, magic=None):
    """A gzipped idx file: big-endian magic (0x08 = unsigned bytes, then the rank), one uint32 a dimension, data."""
    array = np.asarray(array, dtype=np.uint8)
    magic = (0x08 << 8 | array.ndim) if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.tobytes())
    return path


def synthetic_fashion(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def test_fashion_idx_parser_on_synthetic_gz(tmp_path):
    images, labels = synthetic_fashion(5)
    x, y = read_split(write_idx(tmp_path / "i.gz", images), write_idx(tmp_path / "l.gz", labels))
    assert x.dtype == np.uint8 and y.dtype == np.uint8
    assert np.array_equal(x, images) and np.array_equal(y, labels)


def test_fashion_idx_magic_values():
    # The published magics: unsigned bytes (0x08) of rank 3 for images, rank 1 for labels.
    assert fashion_mnist.IMAGES_MAGIC == 2051 and fashion_mnist.LABELS_MAGIC == 2049


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda path: write_idx(path, np.zeros((2, 28, 28)), magic=0x00000801),  # a labels file as images
        lambda path: write_idx(path, np.zeros((2, 28, 28)), magic=0x00000D03),  # floats, not bytes
        lambda path: path.write_bytes(gzip.compress(b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c" + bytes(10))),
        lambda path: path.write_bytes(gzip.compress(b"\x00\x00")),  # a truncated header
        lambda path: path.write_text("<html>not gzip</html>"),
        lambda path: path.write_bytes(gzip.compress(bytes(5000))[:-20]),  # a truncated download
    ],
)
def test_fashion_corrupt_idx_is_a_one_line_user_error(tmp_path, corrupt):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    corrupt(path)
    with pytest.raises(UserError) as error:
        read_idx(path, fashion_mnist.IMAGES_MAGIC)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "replace it" in message


def test_fashion_mismatched_or_bad_labels(tmp_path):
    images, labels = synthetic_fashion(4)
    with pytest.raises(UserError, match="4 images but .* 3 labels"):
        read_split(write_idx(tmp_path / "i.gz", images), write_idx(tmp_path / "l.gz", labels[:3]))
    with pytest.raises(UserError, match="label 10"):
        read_split(write_idx(tmp_path / "i.gz", images), write_idx(tmp_path / "l.gz", [0, 1, 10, 2]))
    with pytest.raises(UserError, match="not 28x28"):
        read_split(write_idx(tmp_path / "i.gz", np.zeros((4, 32, 32))), write_idx(tmp_path / "l.gz", labels))


def test_fashion_public_source_converts_dedups_and_splits(fake_hub):
    image_module = pytest.importorskip("PIL.Image")
    images, labels = synthetic_fashion(7)
    images[5] = images[2]  # an exact duplicate must be dropped before drawing
    test_images, test_labels = synthetic_fashion(3, seed=1)
    calls = fake_hub(
        {
            "train": {"image": [image_module.fromarray(p) for p in images], "label": labels.tolist()},
            "test": {"image": [image_module.fromarray(p) for p in test_images], "label": test_labels.tolist()},
        },
    )
    population = FashionMnistTask(population_size=6, test_size=2).load(None)
    assert calls == [(fashion_mnist.HUB_NAME, None)]  # unpinned: no verified commit
    assert sorted(population.ids.tolist()) == [0, 1, 2, 3, 4, 6]
    assert np.array_equal((population.x[:, 0].numpy() * 255).round().astype(np.uint8), images[population.ids])
    assert np.array_equal(population.y.numpy(), labels[population.ids])
    assert np.array_equal((population.x_test[:, 0].numpy() * 255).round().astype(np.uint8), test_images[:2])
    with pytest.raises(UserError, match="population_size=7 must be between 1 and 6"):
        FashionMnistTask(population_size=7).load(None)


def test_fashion_offline_hub_is_a_one_line_user_error(monkeypatch):
    datasets = pytest.importorskip("datasets")

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hub\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(UserError) as error:
        FashionMnistTask().load(None)
    message = str(error.value)
    assert "\n" not in message and "Couldn't reach the Hub" in message
    assert fashion_mnist.HUB_NAME in message and "MIABENCH_DATA_DIR" in message


def test_fashion_registered_with_mnist_model_and_views():
    task = tasks.create("fashion-mnist", {"population_size": "300", "epochs": "2"})
    assert isinstance(task, FashionMnistTask) and isinstance(task, MnistTask)
    assert task.population_size == 300 and task.test_size == 10000 and task.recipe().epochs == 2
    meta = task.metadata
    assert meta.name == "fashion-mnist" and meta.license == "MIT" and meta.num_classes == 10
    assert meta.citation == ("xiao2017fashion",) and "1708.07747" in citations.entry("xiao2017fashion")
    assert len(meta.class_names) == 10 and meta.class_names[0] == "t-shirt" and meta.class_names[9] == "ankle-boot"
    assert task.augmentations == ("identity", "shift-right-1")
    assert task.make_model()(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert set(api.subgroups(np.arange(10), meta)) == {f"class:{name}" for name in meta.class_names}


@pytest.fixture(scope="module")
def fashion_population(data_dir):
    return FashionMnistTask().load(data_dir)


@pytest.fixture(scope="module")
def fashion_source(data_dir):
    return fashion_mnist.read_local(data_dir)


def test_fashion_real_split(fashion_population, fashion_source):
    p = fashion_population
    x_train, y_train, x_test, y_test = fashion_source
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_train).tolist() == [6000] * 10 and np.bincount(y_test).tolist() == [1000] * 10
    assert p.x.shape == (10000, 1, 28, 28) and p.x_test.shape == (10000, 1, 28, 28)
    assert p.x.dtype == torch.float32 and p.y.dtype == torch.int64
    assert p.x.min() >= 0 and p.x.max() <= 1 and p.x.max() > 0.99
    assert set(p.y.tolist()) == set(range(10)) and set(p.y_test.tolist()) == set(range(10))
    # ids are distinct positions in the official train set
    assert len(set(p.ids.tolist())) == len(p) and p.ids.max() < 60000
    assert np.array_equal((p.x.numpy()[:, 0] * 255).round().astype(np.uint8), x_train[p.ids])
    assert np.array_equal(p.y.numpy(), y_train[p.ids])
    assert np.array_equal(p.y_test.numpy(), y_test[:10000])
    everything = torch.cat([p.x, p.x_test]).numpy()
    assert len(data.deduplicate(everything)) == len(everything)  # no duplicate within or across the split


def test_fashion_fingerprint(data_dir, fashion_population):
    again = FashionMnistTask().load(data_dir)
    assert again.fingerprint == fashion_population.fingerprint and np.array_equal(again.ids, fashion_population.ids)
    assert FashionMnistTask(test_size=5000).load(data_dir).fingerprint != fashion_population.fingerprint


def test_fashion_missing_file(tmp_path):
    with pytest.raises(UserError) as error:
        FashionMnistTask().load(tmp_path)
    message = str(error.value)
    assert "\n" not in message and str(tmp_path / "fashion-mnist" / "train-images-idx3-ubyte.gz") in message
    assert fashion_mnist.HUB_NAME in message
