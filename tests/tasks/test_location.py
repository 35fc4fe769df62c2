"""The location task: the published tarball, its split, the model, and its declared parameters."""

import io
import tarfile

import numpy as np
import pytest
import torch

from miabench import data
from miabench.errors import UserError
from miabench.registry import tasks
from miabench.tasks import location
from miabench.tasks.location import LocationTask, read_location_tgz


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


def test_registered_with_typed_params():
    assert "location" in tasks.names()
    task = tasks.create("location", {"test_size": "500"})
    assert isinstance(task, LocationTask) and task.test_size == 500


def test_parser_on_synthetic_tgz(tmp_path):
    rows = synthetic_rows(5)
    x, y = read_location_tgz(write_location_tgz(tmp_path / "l.tgz", rows))
    assert x.shape == (5, 446) and x.dtype == np.float32
    assert y.dtype == np.int64
    assert y.tolist() == [label - 1 for label, _ in rows]
    assert x[2].tolist() == rows[2][1]


def test_public_source_dedups_and_splits(monkeypatch, tmp_path):
    rows = synthetic_rows(8)
    rows.append(rows[3])  # an exact duplicate must be dropped
    monkeypatch.setattr(location, "URL", write_location_tgz(tmp_path / "l.tgz", rows).as_uri())
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    population = LocationTask(test_size=3).load(None)
    assert len(population) + len(population.y_test) == 8
    assert 8 not in population.ids
    assert (tmp_path / "cache" / "downloads" / "dataset_location.tgz").is_file()


def test_bad_tarball_is_a_user_error(tmp_path):
    (tmp_path / "bad.tgz").write_text("<html>not a tarball</html>")
    with pytest.raises(UserError, match="bad.tgz"):
        read_location_tgz(tmp_path / "bad.tgz")


@pytest.fixture(scope="module")
def location_population(data_dir):
    return LocationTask().load(data_dir)


def test_real_split(data_dir, location_population):
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
    # The shared split: the test set first, then every other distinct row.
    ids, _ = data.split(data.deduplicate(x_source), 1000, task="location")
    assert np.array_equal(p.ids, ids)


def test_fingerprint(data_dir, location_population):
    assert LocationTask().load(data_dir).fingerprint == location_population.fingerprint
    assert LocationTask(test_size=500).load(data_dir).fingerprint != location_population.fingerprint


def test_missing_file(tmp_path):
    with pytest.raises(UserError) as error:
        LocationTask().load(tmp_path)
    assert str(tmp_path / "location" / "dataset_location.tgz") in str(error.value)


def test_test_size_out_of_range(data_dir):
    with pytest.raises(UserError, match="test_size") as error:
        LocationTask(test_size=100000).load(data_dir)
    assert "\n" not in str(error.value)


def test_model_shapes_and_stacks_under_vmap(stacks_under_vmap):
    stacks_under_vmap(LocationTask(), torch.zeros(4, 446), 30)


def test_metadata_and_recipe():
    meta = LocationTask.metadata
    assert LocationTask.pinned_recipe.epochs == 30
    assert meta.version == "1.0" and meta.default_models == 16
    assert meta.citation == ("shokri2017membership",) and meta.revision is None
