"""The data helpers tasks share: data folders, downloads, fingerprints, dedup, the Hub and the population split."""

import numpy as np
import pytest

from miabench import data
from miabench.errors import UserError


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


def test_reading_turns_decoding_errors_into_one_line(tmp_path):
    import gzip

    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"payload")[:-4])
    with pytest.raises(UserError) as error, data.reading(path, "example.org/x"), gzip.open(path) as handle:
        handle.read()
    assert str(error.value).startswith(f"{path} is damaged (") and "get it again from example.org/x" in str(error.value)
    # Errors that are not about the file's content pass through unchanged.
    with pytest.raises(UserError, match="^its own message$"), data.reading(path, "example.org/x"):
        raise UserError("its own message")
    with pytest.raises(PermissionError), data.reading(path, "example.org/x"):
        raise PermissionError("not readable")


# --- the Hub ------------------------------------------------------------------


def test_load_hub_passes_config_and_revision(monkeypatch):
    datasets = pytest.importorskip("datasets")
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: calls.append((args, kwargs)) or "splits")
    assert data.load_hub("owner/name", "a/file.csv", "config", revision="abc123") == "splits"
    assert data.load_hub("owner/other", "b/file.csv") == "splits"
    assert calls == [(("owner/name", "config"), {"revision": "abc123"}), (("owner/other", None), {"revision": None})]


def test_load_hub_offline_is_one_line_naming_the_local_copy(monkeypatch):
    datasets = pytest.importorskip("datasets")

    def offline(*args, **kwargs):
        raise ConnectionError("no route to host\nsecond line")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(UserError) as error:
        data.load_hub("owner/name", "a/file.csv", "hate", revision="abc123")
    message = str(error.value)
    assert "\n" not in message and "owner/name (config hate)" in message and "no route to host" in message
    assert "MIABENCH_DATA_DIR" in message and "a/file.csv" in message


# --- the population split -----------------------------------------------------


def test_split_from_one_pool_is_the_test_set_then_the_population():
    kept = np.array([0, 2, 3, 5, 7, 8, 9, 11, 12, 14])  # e.g. the distinct rows of a source
    order = kept[np.random.default_rng(0).permutation(len(kept))]  # the draw every task has always made
    population, test = data.split(kept, 3, 4, task="t")
    assert test.tolist() == order[:3].tolist() and population.tolist() == order[3:7].tolist()
    everything, same_test = data.split(kept, 3, task="t")  # no population size: all the rest
    assert everything.tolist() == order[3:].tolist() and same_test.tolist() == test.tolist()
    assert data.SPLIT_SEED == 0


def test_split_with_a_test_split_draws_the_population_then_the_test_set():
    kept = np.array([1, 2, 4, 6, 7, 9])
    rng = np.random.default_rng(0)
    expected_population = kept[rng.permutation(len(kept))][:4]
    expected_test = rng.permutation(8)[:3]  # the same generator, after the population
    population, test = data.split(kept, 3, 4, task="t", test_split=8)
    assert population.tolist() == expected_population.tolist() and test.tolist() == expected_test.tolist()
    population, test = data.split(kept, 3, 4, task="t", test_split=8, shuffle_test=False)
    assert population.tolist() == expected_population.tolist() and test.tolist() == [0, 1, 2]


def test_split_is_fixed_and_disjoint():
    kept = np.arange(100) * 3
    population, test = data.split(kept, 20, 50, task="t")
    again = data.split(kept, 20, 50, task="t")
    assert population.tolist() == again[0].tolist() and test.tolist() == again[1].tolist()
    assert not set(population.tolist()) & set(test.tolist()) and len(population) == 50 and len(test) == 20


@pytest.mark.parametrize(
    "arguments, expected",
    [
        ({"test_size": 10}, "task 'demo' parameter test_size=10 must be between 1 and 9 (the data has 10 distinct"),
        ({"test_size": 4, "population_size": 7}, "population_size=7 must be between 1 and 6"),
        ({"test_size": 3, "population_size": 11, "test_split": 5}, "population_size=11 must be between 1 and 10"),
        ({"test_size": 6, "population_size": 2, "test_split": 5}, "test_size=6 must be between 1 and 5"),
    ],
)
def test_split_sizes_the_data_cannot_meet_are_one_line_errors(arguments, expected):
    with pytest.raises(UserError) as error:
        data.split(np.arange(10), task="demo", **arguments)
    message = str(error.value)
    assert "\n" not in message and expected in message and "give e.g." in message
