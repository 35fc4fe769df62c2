"""The built-in tasks location and mnist, and the data helpers they share."""

import io
import tarfile

import numpy as np
import pytest
import torch
from torch.func import functional_call, stack_module_state

from miabench import data
from miabench.errors import UserError
from miabench.registry import tasks
from miabench.tasks import location, mnist
from miabench.tasks.location import LocationTask, read_location_tgz
from miabench.tasks.mnist import MnistTask, hub_to_arrays
from miabench.tasks.tabular import AdultTask, Purchase100Task, Texas100Task


def write_location_tgz(path, rows):
    """A tarball in the published format: a ``bangkok`` CSV, no header, class quoted."""
    text = "".join(f'"{label}",' + ",".join(str(v) for v in features) + "\n" for label, features in rows)
    payload = text.encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("bangkok")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return path


def synthetic_rows(n, seed=1):
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(1, 31)), rng.integers(0, 2, 446).tolist()) for _ in range(n)]


# --- data helpers -------------------------------------------------------------


def test_data_dir_prefers_explicit_then_env(monkeypatch, tmp_path):
    monkeypatch.delenv("MIABENCH_DATA_DIR", raising=False)
    assert data.data_dir(None) is None
    monkeypatch.setenv("MIABENCH_DATA_DIR", str(tmp_path / "env"))
    assert data.data_dir(None) == tmp_path / "env"
    assert data.data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert data.data_dir(str(tmp_path / "flag")) == tmp_path / "flag"


def test_require_file_names_file_and_fix(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.bin").write_bytes(b"x")
    assert data.require_file(tmp_path, "a/b.bin", "download it") == tmp_path / "a" / "b.bin"
    with pytest.raises(UserError) as error:
        data.require_file(tmp_path, "a/missing.bin", "download it from https://example.org")
    message = str(error.value)
    assert "\n" not in message
    assert str(tmp_path / "a" / "missing.bin") in message
    assert "MIABENCH_DATA_DIR" in message and "https://example.org" in message


def test_fingerprint_sees_values_dtype_and_shape():
    a = np.arange(6, dtype=np.int64)
    assert data.fingerprint(a) == data.fingerprint(a.copy())
    assert data.fingerprint(a) != data.fingerprint(a.reshape(2, 3))
    assert data.fingerprint(a) != data.fingerprint(a.astype(np.int32))
    assert data.fingerprint(a) != data.fingerprint(a + 1)
    assert data.fingerprint(a, a) != data.fingerprint(a)


def test_deduplicate_keeps_first_occurrence():
    x = np.array([[1, 2], [3, 4], [1, 2], [5, 6], [3, 4]], dtype=np.float32)
    assert data.deduplicate(x).tolist() == [0, 1, 3]
    images = np.zeros((3, 2, 2), dtype=np.uint8)
    images[1, 0, 0] = 1
    assert data.deduplicate(images).tolist() == [0, 1]


def test_download_caches_atomically(monkeypatch, tmp_path):
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload")
    path = data.download(source.as_uri(), "thing.bin")
    assert path == tmp_path / "cache" / "downloads" / "thing.bin"
    assert path.read_bytes() == b"payload"
    assert [p.name for p in path.parent.iterdir()] == ["thing.bin"]  # no temporary file left behind
    source.unlink()
    assert data.download(source.as_uri(), "thing.bin") == path  # served from the cache


def test_download_unreachable_is_a_user_error(monkeypatch, tmp_path):
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(UserError, match="MIABENCH_DATA_DIR") as error:
        data.download((tmp_path / "nowhere.bin").as_uri(), "nowhere.bin")
    assert "\n" not in str(error.value)
    assert list((tmp_path / "cache" / "downloads").iterdir()) == []


# --- registry -----------------------------------------------------------------


def test_tasks_are_registered_with_typed_params():
    assert {"location", "mnist"} <= set(tasks.names())
    task = tasks.create("location", {"test_size": "500"})
    assert isinstance(task, LocationTask) and task.test_size == 500
    task = tasks.create("mnist", {"population_size": "200", "epochs": "3"})
    assert isinstance(task, MnistTask) and task.population_size == 200 and task.recipe().epochs == 3


# --- location -----------------------------------------------------------------


def test_location_parser_on_synthetic_tgz(tmp_path):
    rows = synthetic_rows(5)
    x, y = read_location_tgz(write_location_tgz(tmp_path / "l.tgz", rows))
    assert x.shape == (5, 446) and x.dtype == np.float32
    assert y.dtype == np.int64
    assert y.tolist() == [label - 1 for label, _ in rows]
    assert x[2].tolist() == rows[2][1]


def test_location_public_source_dedups_and_splits(monkeypatch, tmp_path):
    rows = synthetic_rows(8)
    rows.append(rows[3])  # an exact duplicate must be dropped
    monkeypatch.setattr(location, "URL", write_location_tgz(tmp_path / "l.tgz", rows).as_uri())
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    population = LocationTask(test_size=3).load(None)
    assert len(population) + len(population.y_test) == 8
    assert 8 not in population.ids
    assert (tmp_path / "cache" / "downloads" / "dataset_location.tgz").is_file()


def test_location_bad_tarball_is_a_user_error(tmp_path):
    (tmp_path / "bad.tgz").write_text("<html>not a tarball</html>")
    with pytest.raises(UserError, match="bad.tgz"):
        read_location_tgz(tmp_path / "bad.tgz")


@pytest.fixture(scope="module")
def location_population(data_dir):
    return LocationTask().load(data_dir)


def test_location_real_split(data_dir, location_population):
    p = location_population
    x_source, y_source = read_location_tgz(data_dir / "location" / "dataset_location.tgz")
    distinct = len(np.unique(x_source, axis=0))
    assert len(p) + len(p.y_test) == distinct
    assert len(p.y_test) == 1000
    assert p.x.shape == (len(p), 446) and p.x.dtype == torch.float32 and p.y.dtype == torch.int64
    for labels in (p.y, p.y_test):
        assert labels.min() >= 0 and labels.max() <= 29
    everything = torch.cat([p.x, p.x_test]).numpy()
    assert len(data.deduplicate(everything)) == len(everything)  # no duplicate row across the split
    # ids are positions in the source file
    assert len(set(p.ids.tolist())) == len(p)
    assert np.array_equal(p.x.numpy(), x_source[p.ids]) and np.array_equal(p.y.numpy(), y_source[p.ids])


def test_location_fingerprint(data_dir, location_population):
    assert LocationTask().load(data_dir).fingerprint == location_population.fingerprint
    assert LocationTask(test_size=500).load(data_dir).fingerprint != location_population.fingerprint


def test_location_missing_file(tmp_path):
    with pytest.raises(UserError) as error:
        LocationTask().load(tmp_path)
    assert str(tmp_path / "location" / "dataset_location.tgz") in str(error.value)


def test_location_test_size_out_of_range(data_dir):
    with pytest.raises(UserError, match="test_size"):
        LocationTask(test_size=100000).load(data_dir)


# --- mnist --------------------------------------------------------------------


def test_mnist_hub_conversion():
    datasets = pytest.importorskip("datasets")
    image_module = pytest.importorskip("PIL.Image")
    pixels = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    split = datasets.Dataset.from_dict({"image": [image_module.fromarray(p) for p in pixels], "label": [7, 0, 3]})
    images, labels = hub_to_arrays(split)
    assert images.dtype == np.uint8 and labels.dtype == np.uint8
    assert np.array_equal(images, pixels)
    assert labels.tolist() == [7, 0, 3]


@pytest.fixture(scope="module")
def mnist_population(data_dir):
    return MnistTask().load(data_dir)


def test_mnist_real_split(data_dir, mnist_population):
    p = mnist_population
    assert p.x.shape == (10000, 1, 28, 28) and p.x_test.shape == (10000, 1, 28, 28)
    assert p.x.dtype == torch.float32 and p.y.dtype == torch.int64
    assert p.x.min() >= 0 and p.x.max() <= 1 and p.x.max() > 0.99
    assert p.y.min() >= 0 and p.y.max() <= 9
    with np.load(data_dir / "mnist" / "mnist.npz") as arrays:
        x_train, y_train = arrays["x_train"], arrays["y_train"]
    # ids are positions in the official train set, distinct images
    assert np.array_equal((p.x.numpy()[:, 0] * 255).round().astype(np.uint8), x_train[p.ids])
    assert np.array_equal(p.y.numpy(), y_train[p.ids])
    assert len(data.deduplicate(x_train[p.ids])) == len(p)


def test_mnist_fingerprint(data_dir, mnist_population):
    again = MnistTask().load(data_dir)
    assert again.fingerprint == mnist_population.fingerprint
    assert np.array_equal(again.ids, mnist_population.ids)
    assert MnistTask(population_size=5000).load(data_dir).fingerprint != mnist_population.fingerprint


def test_mnist_shift_view(mnist_population):
    task = MnistTask()
    x = mnist_population.x[:64]
    assert task.augment(x, 0) is x
    shifted = task.augment(x, 1)
    assert shifted.shape == x.shape
    assert torch.all(shifted[..., 0] == 0)
    assert torch.equal(shifted[..., 1:], x[..., :-1])
    assert not torch.equal(shifted, x)
    with pytest.raises(IndexError):
        task.augment(x, 2)
    assert len(task.augmentations) == 2


def test_mnist_missing_file(tmp_path):
    with pytest.raises(UserError) as error:
        MnistTask().load(tmp_path)
    assert str(tmp_path / "mnist" / "mnist.npz") in str(error.value)


# --- models -------------------------------------------------------------------


@pytest.mark.parametrize(
    "task, batch, classes",
    [
        (LocationTask(), torch.zeros(4, 446), 30),
        (MnistTask(), torch.zeros(4, 1, 28, 28), 10),
        (AdultTask(), torch.zeros(4, 108), 2),
        (Purchase100Task(), torch.zeros(4, 600), 100),
        (Texas100Task(), torch.zeros(4, 6169), 100),
    ],
)
def test_models_shapes_and_stack_under_vmap(task, batch, classes):
    assert task.make_model()(batch).shape == (4, classes)
    assert task.metadata.num_classes == classes
    # The engine trains K copies stacked under vmap: that must work for the family.
    models = [task.make_model() for _ in range(3)]
    params, buffers = stack_module_state(models)

    def run(p, b, x):
        return functional_call(models[0], (p, b), (x,))

    out = torch.vmap(run, in_dims=(0, 0, None))(params, buffers, batch)
    assert out.shape == (3, 4, classes)


def test_metadata_and_recipes():
    assert location.LocationTask.pinned_recipe.epochs == 30
    assert mnist.MnistTask.pinned_recipe.epochs == 10
    for task in (LocationTask, MnistTask):
        assert task.metadata.version == "1.0" and task.metadata.default_models == 16
        assert task.metadata.citation.startswith("@")
