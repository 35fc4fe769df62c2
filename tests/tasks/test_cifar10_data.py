"""CIFAR-10's loaders: the JPEG archive on tiny synthetic files, its cache, the Hub original, the real copy."""

import collections
import io
import lzma
import tarfile

import numpy as np
import pytest

from miabench.atomic import sha256_file
from miabench.errors import UserError
from miabench.tasks import cifar10_data

# --- the JPEG archive ---------------------------------------------------------

COLOURS = {  # solid colours survive JPEG almost exactly, so pixels tell the files apart
    "train/cat/0003.jpg": (200, 30, 30),
    "train/airplane/0001.jpg": (30, 200, 30),
    "train/cat/0000.jpg": (30, 30, 200),
    "train/truck/4999.jpg": (250, 250, 0),
    "test/truck/0999.jpg": (0, 250, 250),
    "test/airplane/0000.jpg": (120, 120, 120),
}


def test_cifar_class_names_are_canonical():
    assert cifar10_data.CLASS_NAMES == (
        *("airplane", "automobile", "bird", "cat", "deer"),
        *("dog", "frog", "horse", "ship", "truck"),
    )


def test_cifar_archive_decodes_in_canonical_order(tmp_path, write_cifar_archive):
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


def test_cifar_archive_grey_jpeg_becomes_rgb(tmp_path, write_cifar_archive):
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
    ],
)
def test_cifar_bad_member_is_a_one_line_user_error(tmp_path, write_cifar_archive, files, expected):
    path = write_cifar_archive(tmp_path / "c.tar.xz", files)
    with pytest.raises(UserError, match=expected) as error:
        cifar10_data.decode_archive(path, progress=False)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "replace it" in message


def test_cifar_jpeg_of_another_size_is_a_one_line_user_error(tmp_path, write_cifar_archive, jpeg_bytes):
    path = write_cifar_archive(tmp_path / "c.tar.xz", {"train/cat/0000.jpg": jpeg_bytes((1, 2, 3), size=(28, 28))})
    with pytest.raises(UserError, match="not 32x32") as error:
        cifar10_data.decode_archive(path, progress=False)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "replace it" in message


def test_cifar_duplicate_member_is_a_user_error(tmp_path, jpeg_bytes):
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
def test_cifar_corrupt_archive_is_a_one_line_user_error(tmp_path, write_cifar_archive, corrupt):
    good = write_cifar_archive(tmp_path / "good.tar.xz", COLOURS).read_bytes()
    path = tmp_path / "bad.tar.xz"
    corrupt(path, good)
    with pytest.raises(UserError) as error:
        cifar10_data.decode_archive(path, progress=False)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "tar.xz" in message


def test_cifar_cache_is_reused_only_for_the_same_archive(monkeypatch, tmp_path, write_cifar_archive):
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


def test_cifar_no_cache_leaves_nothing(monkeypatch, tmp_path, write_cifar_archive):
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    path = write_cifar_archive(tmp_path / "a.tar.xz", COLOURS)
    arrays = cifar10_data.read_jpeg_archive(path, progress=False, cache=False)
    assert len(arrays.y_train) == 4 and not (tmp_path / "cache").exists()


def test_cifar_unwritable_cache_warns_and_still_loads(monkeypatch, tmp_path, write_cifar_archive):
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    path = write_cifar_archive(tmp_path / "a.tar.xz", COLOURS)
    with pytest.warns(UserWarning, match="cannot cache"):
        arrays = cifar10_data.read_jpeg_archive(path, progress=False)
    assert arrays.ids_train.tolist() == [1, 15000, 15003, 49999]


def test_cifar_load_picks_the_source(monkeypatch, tmp_path, write_cifar_archive):
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "data" / "cifar10").mkdir(parents=True)
    write_cifar_archive(tmp_path / "data" / "cifar10" / "cifar10_jpeg_q75.tar.xz", COLOURS)
    source, arrays = cifar10_data.load(tmp_path / "data", cifar10_data.REVISION, progress=False)
    assert source == "jpeg" and len(arrays.y_train) == 4 and source in cifar10_data.SOURCES

    missing = tmp_path / "empty" / "cifar10" / "cifar10_jpeg_q75.tar.xz"
    for read in (
        lambda: cifar10_data.load(tmp_path / "empty", cifar10_data.REVISION, progress=False),
        lambda: cifar10_data.read_jpeg_archive(missing, progress=False),
        lambda: cifar10_data.decode_archive(missing, progress=False),
    ):
        with pytest.raises(UserError) as error:
            read()
        message = str(error.value)
        assert "\n" not in message and str(missing) in message
        assert cifar10_data.HUB_NAME in message and "MIABENCH_DATA_DIR" in message


# --- the Hub original ---------------------------------------------------------


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


def test_cifar_public_source(fake_hub):
    train_pixels, train_labels, train = tiny_cifar_split(4, seed=1)
    test_pixels, test_labels, test = tiny_cifar_split(2, seed=2)
    calls = fake_hub({"train": train, "test": test})
    source, arrays = cifar10_data.load(None, cifar10_data.REVISION, progress=False)
    assert source == "hub" and calls == [(cifar10_data.HUB_NAME, cifar10_data.REVISION)]
    assert np.array_equal(arrays.x_train, train_pixels) and arrays.y_train.tolist() == train_labels
    assert np.array_equal(arrays.x_test, test_pixels) and arrays.y_test.tolist() == test_labels
    assert arrays.ids_train.tolist() == [0, 1, 2, 3] and arrays.ids_test.tolist() == [0, 1]  # positions in the splits


def test_cifar_offline_hub_is_a_one_line_user_error(monkeypatch):
    datasets = pytest.importorskip("datasets")

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'\nTraceback detail")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(UserError) as error:
        cifar10_data.read_hub(cifar10_data.REVISION, progress=False)
    message = str(error.value)
    assert "\n" not in message and "couldn't connect" in message
    assert cifar10_data.HUB_NAME in message and cifar10_data.RELATIVE_PATH in message


# --- the real archive ---------------------------------------------------------


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
    source, arrays = cifar10_data.load(data_dir, None, progress=False)
    assert source == "jpeg"
    assert arrays.x_train.shape == (50000, 32, 32, 3) and arrays.x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(arrays.y_train).tolist() == [5000] * 10 and np.bincount(arrays.y_test).tolist() == [1000] * 10
    assert np.array_equal(arrays.ids_train, np.arange(50000)) and np.array_equal(arrays.ids_test, np.arange(10000))
    # CIFAR-10's published channel means (R, G, B): a swapped channel order or a bad decode would miss them.
    assert np.allclose(arrays.x_train.reshape(-1, 3).mean(0), [125.3, 123.0, 113.9], atol=1.0)
    _, cached = cifar10_data.load(data_dir, None, progress=False)
    assert np.array_equal(cached.x_train, arrays.x_train) and np.array_equal(cached.y_test, arrays.y_test)
