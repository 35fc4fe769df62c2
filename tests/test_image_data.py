"""Fashion-MNIST's task and CIFAR-10's loaders: published formats on tiny synthetic files, then the real copies."""

import collections
import gzip
import io
import lzma
import tarfile

import numpy as np
import pytest
import torch

from miabench import data
from miabench.atomic import sha256_file
from miabench.errors import UserError
from miabench.registry import tasks
from miabench.tasks import cifar10_data, fashion_mnist
from miabench.tasks.fashion_mnist import FashionMnistTask, read_idx, read_split
from miabench.tasks.mnist import MnistTask

# --- fashion-mnist: the idx format --------------------------------------------


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


def fake_hub(monkeypatch, splits):
    """``datasets.load_dataset`` answering with tiny in-memory splits instead of the network."""
    datasets = pytest.importorskip("datasets")
    calls = []

    def load_dataset(name, *args, **kwargs):
        calls.append(name)
        return datasets.DatasetDict({k: datasets.Dataset.from_dict(v) for k, v in splits.items()})

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_fashion_public_source_converts_dedups_and_splits(monkeypatch):
    image_module = pytest.importorskip("PIL.Image")
    images, labels = synthetic_fashion(7)
    images[5] = images[2]  # an exact duplicate must be dropped before drawing
    test_images, test_labels = synthetic_fashion(3, seed=1)
    calls = fake_hub(
        monkeypatch,
        {
            "train": {"image": [image_module.fromarray(p) for p in images], "label": labels.tolist()},
            "test": {"image": [image_module.fromarray(p) for p in test_images], "label": test_labels.tolist()},
        },
    )
    population = FashionMnistTask(population_size=6, test_size=2).load(None)
    assert calls == [fashion_mnist.HUB_NAME]
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
    assert meta.citation.startswith("@") and "1708.07747" in meta.citation
    assert len(meta.class_names) == 10 and meta.class_names[0] == "t-shirt" and meta.class_names[9] == "ankle-boot"
    assert task.augmentations == ("identity", "shift-right-1")
    assert task.make_model()(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert set(task.subgroups(np.arange(10))) == {f"class:{name}" for name in meta.class_names}


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


# --- cifar10: the JPEG archive ------------------------------------------------

COLOURS = {  # solid colours survive JPEG almost exactly, so pixels tell the files apart
    "train/cat/0003.jpg": (200, 30, 30),
    "train/airplane/0001.jpg": (30, 200, 30),
    "train/cat/0000.jpg": (30, 30, 200),
    "train/truck/4999.jpg": (250, 250, 0),
    "test/truck/0999.jpg": (0, 250, 250),
    "test/airplane/0000.jpg": (120, 120, 120),
}


def jpeg_bytes(colour, size=(32, 32)):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


def write_cifar_archive(path, files, folders=True):
    """A tar.xz in the published layout: folder entries, then ``<split>/<class>/NNNN.jpg`` in no particular order."""
    with tarfile.open(path, "w:xz") as archive:
        if folders:
            for folder in sorted({name.rsplit("/", 1)[0] for name in files} | {name.split("/")[0] for name in files}):
                info = tarfile.TarInfo(folder)
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
        for name, payload in files.items():
            payload = jpeg_bytes(payload) if isinstance(payload, tuple) else payload
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


def test_cifar_class_names_are_canonical():
    assert cifar10_data.CLASS_NAMES == (
        *("airplane", "automobile", "bird", "cat", "deer"),
        *("dog", "frog", "horse", "ship", "truck"),
    )
    assert cifar10_data.CITATION.startswith("@techreport") and "Tiny Images" in cifar10_data.CITATION


def test_cifar_archive_decodes_in_canonical_order(tmp_path):
    arrays = cifar10_data.decode_archive(write_cifar_archive(tmp_path / "c.tar.xz", COLOURS), progress=False)
    assert arrays.x_train.shape == (4, 32, 32, 3) and arrays.x_test.shape == (2, 32, 32, 3)
    assert arrays.x_train.dtype == np.uint8 and arrays.y_train.dtype == np.int64 and arrays.ids_train.dtype == np.int64
    # class index, then NNNN; ids = class * 5000 + NNNN (train), class * 1000 + NNNN (test)
    assert arrays.y_train.tolist() == [0, 3, 3, 9] and arrays.ids_train.tolist() == [1, 15000, 15003, 49999]
    assert arrays.y_test.tolist() == [0, 9] and arrays.ids_test.tolist() == [0, 9999]
    order = ["train/airplane/0001.jpg", "train/cat/0000.jpg", "train/cat/0003.jpg", "train/truck/4999.jpg"]
    for image, name in zip(arrays.x_train, order):
        assert np.abs(image.astype(int) - COLOURS[name]).max() <= 3, name  # RGB, not BGR
    assert np.abs(arrays.x_test[1].astype(int) - COLOURS["test/truck/0999.jpg"]).max() <= 3


def test_cifar_archive_grey_jpeg_becomes_rgb(tmp_path):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (32, 32), 77).save(buffer, format="JPEG")
    path = write_cifar_archive(tmp_path / "c.tar.xz", {"train/ship/0002.jpg": buffer.getvalue()}, folders=False)
    arrays = cifar10_data.decode_archive(path, progress=False)
    assert arrays.x_train.shape == (1, 32, 32, 3) and np.abs(arrays.x_train.astype(int) - 77).max() <= 1
    assert arrays.x_test.shape == (0, 32, 32, 3) and arrays.ids_train.tolist() == [8 * 5000 + 2]


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"train/plane/0000.jpg": (1, 2, 3)}, "class folder 'plane'"),
        ({"valid/cat/0000.jpg": (1, 2, 3)}, "split 'valid'"),
        ({"train/cat/5000.jpg": (1, 2, 3)}, "below 5000"),
        ({"test/cat/1000.jpg": (1, 2, 3)}, "below 1000"),
        ({"train/cat/cat.jpg": (1, 2, 3)}, "NNNN.jpg"),
        ({"cat/0000.jpg": (1, 2, 3)}, "<split>/<class>/NNNN.jpg"),
        ({"train/cat/0000.jpg": b"not a jpeg"}, "not a readable JPEG"),
        ({"train/cat/0000.jpg": jpeg_bytes((1, 2, 3), size=(28, 28))}, "not 32x32"),
    ],
)
def test_cifar_bad_member_is_a_one_line_user_error(tmp_path, files, expected):
    path = write_cifar_archive(tmp_path / "c.tar.xz", files)
    with pytest.raises(UserError, match=expected) as error:
        cifar10_data.decode_archive(path, progress=False)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "replace it" in message


def test_cifar_duplicate_member_is_a_user_error(tmp_path):
    path = tmp_path / "c.tar.xz"
    with tarfile.open(path, "w:xz") as archive:
        for colour in ((1, 2, 3), (4, 5, 6)):
            payload = jpeg_bytes(colour)
            info = tarfile.TarInfo("train/cat/0007.jpg")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    with pytest.raises(UserError, match="twice"):
        cifar10_data.decode_archive(path, progress=False)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda path, good: path.write_text("<html>not an archive</html>"),
        lambda path, good: path.write_bytes(good[: len(good) // 2]),  # a truncated download
        lambda path, good: path.write_bytes(lzma.compress(b"plain text, not a tar")),
    ],
)
def test_cifar_corrupt_archive_is_a_one_line_user_error(tmp_path, corrupt):
    good = write_cifar_archive(tmp_path / "good.tar.xz", COLOURS).read_bytes()
    path = tmp_path / "bad.tar.xz"
    corrupt(path, good)
    with pytest.raises(UserError) as error:
        cifar10_data.decode_archive(path, progress=False)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "tar.xz" in message


def test_cifar_cache_is_reused_only_for_the_same_archive(monkeypatch, tmp_path):
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    first = write_cifar_archive(tmp_path / "a.tar.xz", COLOURS)
    decoded = []
    real_decode = cifar10_data.decode_archive
    monkeypatch.setattr(
        cifar10_data, "decode_archive", lambda path, progress: decoded.append(path) or real_decode(path, progress)
    )

    arrays = cifar10_data.read_jpeg_archive(first, progress=False)
    cached = tmp_path / "cache" / "cifar10" / f"jpeg-{sha256_file(first)}-v{cifar10_data.CACHE_VERSION}.npz"
    assert decoded == [first] and cached.is_file()
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temporary file left behind

    again = cifar10_data.read_jpeg_archive(first, progress=False)  # served from the cache
    assert decoded == [first]
    for name, value in vars(arrays).items():
        assert np.array_equal(getattr(again, name), value) and getattr(again, name).dtype == value.dtype

    # A copy under another name is the same archive; a different archive is decoded afresh.
    (tmp_path / "copy.tar.xz").write_bytes(first.read_bytes())
    cifar10_data.read_jpeg_archive(tmp_path / "copy.tar.xz", progress=False)
    assert decoded == [first]
    other = write_cifar_archive(tmp_path / "b.tar.xz", {"test/frog/0005.jpg": (9, 99, 199)})
    changed = cifar10_data.read_jpeg_archive(other, progress=False)
    assert decoded == [first, other] and changed.ids_test.tolist() == [6005] and len(changed.y_train) == 0
    assert len(list(cached.parent.iterdir())) == 2

    # An unreadable cache file is decoded again and replaced.
    cached.write_bytes(b"garbage")
    assert np.array_equal(cifar10_data.read_jpeg_archive(first, progress=False).x_train, arrays.x_train)
    assert decoded == [first, other, first]
    assert np.array_equal(cifar10_data.read_jpeg_archive(first, progress=False).x_train, arrays.x_train)
    assert decoded == [first, other, first]


def test_cifar_no_cache_leaves_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    path = write_cifar_archive(tmp_path / "a.tar.xz", COLOURS)
    arrays = cifar10_data.read_jpeg_archive(path, progress=False, cache=False)
    assert len(arrays.y_train) == 4 and not (tmp_path / "cache").exists()


def test_cifar_unwritable_cache_warns_and_still_loads(monkeypatch, tmp_path):
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    path = write_cifar_archive(tmp_path / "a.tar.xz", COLOURS)
    with pytest.warns(UserWarning, match="cannot cache"):
        arrays = cifar10_data.read_jpeg_archive(path, progress=False)
    assert arrays.ids_train.tolist() == [1, 15000, 15003, 49999]


def test_cifar_load_picks_the_source(monkeypatch, tmp_path):
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "data" / "cifar10").mkdir(parents=True)
    write_cifar_archive(tmp_path / "data" / "cifar10" / "cifar10_jpeg_q75.tar.xz", COLOURS)
    source, arrays = cifar10_data.load(tmp_path / "data", progress=False)
    assert source == "jpeg" and len(arrays.y_train) == 4 and source in cifar10_data.SOURCES

    missing = tmp_path / "empty" / "cifar10" / "cifar10_jpeg_q75.tar.xz"
    for read in (
        lambda: cifar10_data.load(tmp_path / "empty", progress=False),
        lambda: cifar10_data.read_jpeg_archive(missing, progress=False),
        lambda: cifar10_data.decode_archive(missing, progress=False),
    ):
        with pytest.raises(UserError) as error:
            read()
        message = str(error.value)
        assert "\n" not in message and str(missing) in message
        assert cifar10_data.HUB_NAME in message and "MIABENCH_DATA_DIR" in message


# --- cifar10: the Hub original ------------------------------------------------


def tiny_cifar_split(n, seed):
    image_module = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n).tolist()
    return pixels, labels, {"img": [image_module.fromarray(p) for p in pixels], "label": labels}


def test_cifar_hub_conversion_is_lossless():
    datasets = pytest.importorskip("datasets")
    pixels, labels, columns = tiny_cifar_split(3, seed=0)
    x, y = cifar10_data.hub_split_to_arrays(datasets.Dataset.from_dict(columns))
    assert x.dtype == np.uint8 and y.dtype == np.int64
    assert np.array_equal(x, pixels) and y.tolist() == labels


def test_cifar_hub_conversion_rejects_other_images():
    datasets = pytest.importorskip("datasets")
    image_module = pytest.importorskip("PIL.Image")
    split = datasets.Dataset.from_dict({"img": [image_module.new("RGB", (28, 28))], "label": [1]})
    with pytest.raises(UserError, match="32x32"):
        cifar10_data.hub_split_to_arrays(split)


def test_cifar_public_source(monkeypatch):
    train_pixels, train_labels, train = tiny_cifar_split(4, seed=1)
    test_pixels, test_labels, test = tiny_cifar_split(2, seed=2)
    calls = fake_hub(monkeypatch, {"train": train, "test": test})
    source, arrays = cifar10_data.load(None, progress=False)
    assert source == "hub" and calls == [cifar10_data.HUB_NAME]
    assert np.array_equal(arrays.x_train, train_pixels) and arrays.y_train.tolist() == train_labels
    assert np.array_equal(arrays.x_test, test_pixels) and arrays.y_test.tolist() == test_labels
    assert arrays.ids_train.tolist() == [0, 1, 2, 3] and arrays.ids_test.tolist() == [0, 1]  # positions in the splits


def test_cifar_offline_hub_is_a_one_line_user_error(monkeypatch):
    datasets = pytest.importorskip("datasets")

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'\nTraceback detail")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(UserError) as error:
        cifar10_data.read_hub(progress=False)
    message = str(error.value)
    assert "\n" not in message and "couldn't connect" in message
    assert cifar10_data.HUB_NAME in message and cifar10_data.RELATIVE_PATH in message


# --- cifar10: the real archive ------------------------------------------------


def test_cifar_real_archive_layout(data_dir):
    """Every member of the real archive maps onto a class and a number, 5000/1000 a class (no decoding)."""
    path = data_dir / cifar10_data.RELATIVE_PATH
    counts = collections.Counter()
    with tarfile.open(path, "r|xz") as archive:
        for member in archive:
            if member.isfile():
                split, label, _ = cifar10_data._member_key(member.name, path)
                counts[split, label] += 1
    assert counts == {(s, c): n for s, n in cifar10_data.PER_CLASS.items() for c in range(10)}


@pytest.mark.slow  # decoding 60,000 JPEGs takes ~20 s on 2 cores
def test_cifar_real_archive_decodes_and_caches(monkeypatch, tmp_path, data_dir):
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path))
    source, arrays = cifar10_data.load(data_dir, progress=False)
    assert source == "jpeg"
    assert arrays.x_train.shape == (50000, 32, 32, 3) and arrays.x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(arrays.y_train).tolist() == [5000] * 10 and np.bincount(arrays.y_test).tolist() == [1000] * 10
    assert np.array_equal(arrays.ids_train, np.arange(50000)) and np.array_equal(arrays.ids_test, np.arange(10000))
    # CIFAR-10's published channel means (R, G, B): a swapped channel order or a bad decode would miss them.
    assert np.allclose(arrays.x_train.reshape(-1, 3).mean(0), [125.3, 123.0, 113.9], atol=1.0)
    _, cached = cifar10_data.load(data_dir, progress=False)
    assert np.array_equal(cached.x_train, arrays.x_train) and np.array_equal(cached.y_test, arrays.y_test)
