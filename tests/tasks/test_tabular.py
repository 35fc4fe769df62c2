"""The tabular tasks adult, purchase100 and texas100: readers of the published formats, splits and models."""

import dataclasses
import io
import tarfile

import numpy as np
import pandas as pd
import pytest
import torch

from miabench import citations, data
from miabench.errors import UserError
from miabench.registry import tasks
from miabench.tasks import tabular
from miabench.tasks.tabular import (
    ADULT_COLUMNS,
    ADULT_REVISION,
    ADULT_WIDTH,
    AdultTask,
    Purchase100Task,
    Texas100Task,
    encode_adult,
    read_adult_file,
    read_purchase_tgz,
    read_texas_tgz,
)

ADULT_ROWS = [
    (
        "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, "
        "United-States, <=50K"
    ),
    (
        "50, Self-emp-not-inc, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, White, Male, 0, 0, "
        "13, United-States, >50K"
    ),
    "38, ?, 215646, HS-grad, 9, Divorced, ?, Not-in-family, White, Male, 0, 1902, 40, ?, <=50K",
]
ADULT_TEST_ROWS = [
    (
        "25, Private, 226802, 11th, 7, Never-married, Machine-op-inspct, Own-child, Black, Male, 0, 0, 40, "
        "United-States, <=50K."
    ),
    (
        "52, Self-emp-inc, 287927, HS-grad, 9, Married-civ-spouse, Exec-managerial, Wife, White, Female, 15024, 0, 40, "
        "Mexico, >50K."
    ),
]


def write_adult(folder, rows=ADULT_ROWS, test_rows=ADULT_TEST_ROWS):
    """adult/adult.data and adult/adult.test as UCI publishes them: ', ' separators, a header and '.' in the test."""
    (folder / "adult").mkdir(parents=True, exist_ok=True)
    (folder / "adult" / "adult.data").write_text("\n".join(rows) + "\n\n")
    (folder / "adult" / "adult.test").write_text("|1x3 Cross validator\n" + "\n".join(test_rows) + "\n\n")
    return folder


def tar_files(path, files: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


def random_rows(n, width, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(1, 101, n), rng.integers(0, 2, (n, width))


def write_purchase_tgz(path, labels, features, quote=False, newline="\n"):
    """A tarball in the published format: a ``dataset_purchase`` CSV, no header, the class first."""
    lines = [(f'"{c}"' if quote else str(c)) + "," + ",".join(map(str, row)) for c, row in zip(labels, features)]
    return tar_files(path, {"dataset_purchase": (newline.join(lines) + newline).encode()})


def write_texas_tgz(path, labels, features):
    """A tarball in the published format: ``texas/100/feats`` (features, no header) and ``texas/100/labels``."""
    feats = "".join(",".join(map(str, row)) + "\n" for row in features).encode()
    return tar_files(path, {"texas/100/feats": feats, "texas/100/labels": "".join(f"{c}\n" for c in labels).encode()})


def one_line_error(call, *needles):
    with pytest.raises(UserError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message
    for needle in needles:
        assert str(needle) in message
    return message


# --- adult ------------------------------------------------------------------


def test_adult_reader_on_synthetic_files(tmp_path):
    folder = write_adult(tmp_path)
    test_frame = read_adult_file(folder / "adult" / "adult.test")  # header line and blank line skipped
    assert len(test_frame) == 2 and test_frame["income"].tolist() == ["<=50K", ">50K"]
    x, y = AdultTask().read(folder)
    assert x.shape == (5, ADULT_WIDTH) == (5, 108) and x.dtype == np.float32
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 0, 0, 1]
    # Six standardised numbers, then one hot per categorical column: "?" is a category of its own.
    assert np.allclose(x[:, :6].mean(axis=0), 0, atol=1e-6) and np.allclose(x[:, :6].std(axis=0), 1, atol=1e-5)
    assert (x[:, 6:].sum(axis=1) == 8).all()
    workclass_missing = 6 + tabular.ADULT_CATEGORIES["workclass"].index("?")
    assert x[:, workclass_missing].tolist() == [0, 0, 1, 0, 0]
    assert x[0, 0] < x[1, 0]  # age 39 < 50 survives standardisation


def test_adult_hub_path_matches_local_encoding(monkeypatch, tmp_path):
    datasets = pytest.importorskip("datasets")
    frame = read_adult_file(write_adult(tmp_path) / "adult" / "adult.data")
    # The Hub copy: dotted column names, numbers as integers, values without the leading spaces.
    hub = {name.replace("-", "."): frame[name].tolist() for name in ADULT_COLUMNS}
    for name in tabular.ADULT_NUMERIC:
        hub[name.replace("-", ".")] = [int(v) for v in hub[name.replace("-", ".")]]
    calls = []

    def fake_load(name, *args, **kwargs):
        calls.append((name, kwargs["revision"]))
        return datasets.DatasetDict({"train": datasets.Dataset.from_dict(hub)})

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    x, y = AdultTask().read(None)
    assert calls == [("scikit-learn/adult-census-income", ADULT_REVISION)]
    assert np.array_equal(x, encode_adult(frame, "local")[0]) and y.tolist() == [0, 1, 0]


def test_adult_hub_offline_is_one_line(monkeypatch):
    datasets = pytest.importorskip("datasets")

    def offline(*args, **kwargs):
        raise ConnectionError("no route to host\nsecond line")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    one_line_error(lambda: AdultTask().load(None), "no route to host", "MIABENCH_DATA_DIR", "adult/adult.data")


def test_adult_dedups_before_drawing(tmp_path):
    folder = write_adult(tmp_path, rows=ADULT_ROWS + [ADULT_ROWS[1]])  # an exact duplicate must be dropped
    population = AdultTask(population_size=3, test_size=1).load(folder)
    assert len(population) == 3 and len(population.y_test) == 1
    assert 3 not in population.ids  # the second copy, at position 3 of the concatenation (data then test)
    everything = torch.cat([population.x, population.x_test]).numpy()
    assert len(data.deduplicate(everything)) == 4
    one_line_error(lambda: AdultTask(population_size=5, test_size=1).load(folder), "population_size=5", "5 distinct")


def test_adult_bad_files_are_one_line_errors(tmp_path):
    folder = write_adult(tmp_path)
    path = folder / "adult" / "adult.data"
    path.write_text("<html>not the data</html>\n")
    one_line_error(lambda: AdultTask().load(folder), path, "scikit-learn/adult-census-income")
    write_adult(tmp_path, rows=[ADULT_ROWS[0].replace("State-gov", "Moon-gov")])
    one_line_error(lambda: AdultTask().load(folder), "workclass", "Moon-gov")
    write_adult(tmp_path, rows=[ADULT_ROWS[0].replace("<=50K", "maybe")])
    one_line_error(lambda: AdultTask().load(folder), "income")


def test_adult_missing_file(tmp_path):
    one_line_error(lambda: AdultTask().load(tmp_path), tmp_path / "adult" / "adult.data", "Hugging Face Hub")


@pytest.fixture(scope="module")
def adult_population(data_dir):
    return AdultTask().load(data_dir)


def test_adult_real_split(data_dir, adult_population):
    p = adult_population
    assert len(p) == 20000 and len(p.y_test) == 5000
    assert p.x.shape == (20000, 108) and p.x_test.shape == (5000, 108)
    assert p.x.dtype == torch.float32 and p.y.dtype == torch.int64
    assert set(p.y.tolist()) == set(p.y_test.tolist()) == {0, 1}
    assert 0.2 < p.y.float().mean() < 0.3  # about 24% earn more than 50K
    everything = torch.cat([p.x, p.x_test]).numpy()
    assert len(data.deduplicate(everything)) == len(everything)  # no duplicate row across the split
    # ids are positions in adult.data then adult.test, encoded over both files
    frames = [read_adult_file(data_dir / "adult" / name) for name in ("adult.data", "adult.test")]
    assert [len(f) for f in frames] == [32561, 16281]
    x_source, y_source = encode_adult(pd.concat(frames, ignore_index=True), "local")
    assert len(set(p.ids.tolist())) == len(p) and p.ids.max() >= 32561  # both files contribute
    assert np.array_equal(p.x.numpy(), x_source[p.ids]) and np.array_equal(p.y.numpy(), y_source[p.ids])


def test_adult_fingerprint_and_parameters(data_dir, adult_population):
    again = AdultTask().load(data_dir)
    assert again.fingerprint == adult_population.fingerprint and np.array_equal(again.ids, adult_population.ids)
    smaller = AdultTask(population_size=1000, test_size=500).load(data_dir)
    assert smaller.fingerprint != adult_population.fingerprint
    assert np.array_equal(smaller.x_test.numpy(), adult_population.x_test[:500].numpy())  # one draw, any size
    one_line_error(lambda: AdultTask(test_size=100000).load(data_dir), "test_size=100000", "48785 distinct examples")
    one_line_error(lambda: tasks.create("adult", {"test_size": "0"}), "test_size", "[1, inf)")  # refused when built
    one_line_error(lambda: AdultTask(population_size=48000).load(data_dir), "population_size=48000")


# --- purchase100 ----------------------------------------------------------------


@pytest.mark.parametrize("quote, newline", [(False, "\n"), (True, "\n"), (False, "\r\n")])
def test_purchase_reader_on_synthetic_tgz(tmp_path, quote, newline):
    labels, features = random_rows(6, 600)
    x, y = read_purchase_tgz(write_purchase_tgz(tmp_path / "p.tgz", labels, features, quote, newline))
    assert x.shape == (6, 600) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.array_equal(x, features) and np.array_equal(y, labels - 1)


def serve_from(monkeypatch, task_class, path):
    """Point a privacytrustlab task's public source at a local tarball."""
    monkeypatch.setattr(task_class, "data", dataclasses.replace(task_class.data, url=path.as_uri()))


def test_purchase_public_source_dedups_and_splits(monkeypatch, tmp_path):
    labels, features = random_rows(9, 600)
    labels[8], features[8] = labels[2], features[2]  # an exact duplicate must be dropped
    serve_from(monkeypatch, Purchase100Task, write_purchase_tgz(tmp_path / "p.tgz", labels, features))
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    population = Purchase100Task(population_size=5, test_size=3).load(None)
    assert len(population) == 5 and len(population.y_test) == 3
    assert 8 not in population.ids and population.x.dtype == torch.float32
    assert np.array_equal(population.x.numpy(), features[population.ids])
    assert np.array_equal(population.y.numpy(), labels[population.ids] - 1)
    assert (tmp_path / "cache" / "downloads" / "dataset_purchase.tgz").is_file()
    one_line_error(lambda: Purchase100Task(test_size=8).load(None), "test_size=8", "8 distinct")


def test_purchase_bad_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.tgz"
    bad.write_text("<html>not a tarball</html>")
    one_line_error(lambda: read_purchase_tgz(bad), bad, "dataset_purchase.tgz")
    other = tar_files(tmp_path / "other.tgz", {"something_else": b"1,0\n"})
    one_line_error(lambda: read_purchase_tgz(other), "'dataset_purchase'")
    labels, features = random_rows(3, 599)
    narrow = write_purchase_tgz(tmp_path / "narrow.tgz", labels, features)
    one_line_error(lambda: read_purchase_tgz(narrow), narrow, "600 binary features")
    labels, features = random_rows(3, 600)
    labels[1] = 101
    one_line_error(lambda: read_purchase_tgz(write_purchase_tgz(tmp_path / "c.tgz", labels, features)), "1..100")


def test_purchase_missing_file(tmp_path):
    one_line_error(
        lambda: Purchase100Task().load(tmp_path),
        tmp_path / "purchase100" / "dataset_purchase.tgz",
        "unset it to download it from https://github.com/privacytrustlab/datasets",
    )


# --- texas100 -------------------------------------------------------------------


def test_texas_reader_on_synthetic_tgz(tmp_path):
    labels, features = random_rows(4, 6169)
    x, y = read_texas_tgz(write_texas_tgz(tmp_path / "t.tgz", labels, features))
    assert x.shape == (4, 6169) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.array_equal(x, features) and np.array_equal(y, labels - 1)


def test_texas_public_source_dedups_and_splits(monkeypatch, tmp_path):
    labels, features = random_rows(7, 6169)
    labels[0], features[0] = labels[5], features[5]  # position 5 repeats position 0 and must be dropped
    serve_from(monkeypatch, Texas100Task, write_texas_tgz(tmp_path / "t.tgz", labels, features))
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    population = Texas100Task(population_size=4, test_size=2).load(None)
    assert 5 not in population.ids and len(population) == 4 and len(population.y_test) == 2
    assert np.array_equal(population.x.numpy(), features[population.ids])
    assert (tmp_path / "cache" / "downloads" / "dataset_texas.tgz").is_file()


def test_texas_bad_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"\x1f\x8b" + b"\0" * 40)  # a gzip magic number, then nothing usable
    one_line_error(lambda: read_texas_tgz(bad), bad, "dataset_texas.tgz")
    labels, features = random_rows(3, 6169)
    only_feats = tar_files(tmp_path / "f.tgz", {"texas/100/feats": b"0,1\n"})
    one_line_error(lambda: read_texas_tgz(only_feats), "'texas/100/labels'")
    short = write_texas_tgz(tmp_path / "short.tgz", labels[:2], features)  # a label missing
    one_line_error(lambda: read_texas_tgz(short), short, "6169 binary features")
    features[1, 7] = 2  # not binary
    one_line_error(lambda: read_texas_tgz(write_texas_tgz(tmp_path / "n.tgz", labels, features)), "binary")


def test_texas_missing_file(tmp_path):
    one_line_error(
        lambda: Texas100Task().load(tmp_path), tmp_path / "texas100" / "dataset_texas.tgz", "unset it to download"
    )


# --- all three ------------------------------------------------------------------


def test_registered_with_typed_params_and_metadata():
    assert {"adult", "purchase100", "texas100"} <= set(tasks.names())
    task = tasks.create("purchase100", {"test_size": "10", "population_size": "50", "epochs": "3"})
    assert isinstance(task, Purchase100Task) and (task.test_size, task.population_size) == (10, 50)
    assert task.recipe().epochs == 3
    for cls in (AdultTask, Purchase100Task, Texas100Task):
        meta = cls.metadata
        assert all(key in citations.entries() for key in meta.citation)
        assert meta.version == "1.0" and meta.default_models == 16
        assert cls.pinned_recipe.lr == 1e-3 and cls.pinned_recipe.batch_size == 128
    assert AdultTask.metadata.class_names == ("<=50K", ">50K") and AdultTask.metadata.flagged_class is None
    assert AdultTask.metadata.citation == ("becker1996adult",) and "10.24432/C5XW20" in citations.entry(
        "becker1996adult"
    )
    assert AdultTask.metadata.revision == "fbeef6ec0e6fd88a5028b94683144000a6b380d5"


def test_purchase100_and_texas100_are_one_task_over_their_data():
    for cls, features, url in ((Purchase100Task, 600, tabular.PURCHASE_URL), (Texas100Task, 6169, tabular.TEXAS_URL)):
        assert issubclass(cls, tabular.TarballTask) and tasks.entry(cls.data.name).component_class is cls
        meta = cls.metadata
        assert (meta.name, meta.source, meta.num_classes, meta.model_family) == (cls.data.name, url, 100, "mlp-256-128")
        assert meta.citation == ("shokri2017membership",) and meta.revision is None and cls.data.features == features
    assert Purchase100Task.metadata.description.startswith("Purchase-100")
    assert Texas100Task.metadata.description.startswith("Texas-100")


def test_adult_end_to_end(data_dir, run_task):
    (record,) = run_task("adult", ["loss"], 2, params={"epochs": "1"}, data_dir=data_dir)
    assert record.task.name == "adult" and (record.models, record.classes) == (2, 2)
    assert record.examples == 20000
    assert record.utility.test_accuracy.mean > 0.8  # above the majority class (76%) after one epoch


@pytest.mark.parametrize(
    "task, batch, classes",
    [
        (AdultTask(), torch.zeros(4, 108), 2),
        (Purchase100Task(), torch.zeros(4, 600), 100),
        (Texas100Task(), torch.zeros(4, 6169), 100),
    ],
)
def test_models_shapes_and_stack_under_vmap(stacks_under_vmap, task, batch, classes):
    stacks_under_vmap(task, batch, classes)
