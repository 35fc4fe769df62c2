"""The cifar10 task: its population from either source, the network, and a small run on the real data."""

import numpy as np
import pytest
import torch

from miabench import citations, engine
from miabench.errors import UserError
from miabench.registry import tasks
from miabench.tasks import cifar10_data
from miabench.tasks.cifar10 import Cifar10Task, airbench_net

CLASSES = cifar10_data.CLASS_NAMES


def synthetic_files(per_class=3):
    rng = np.random.default_rng(0)
    files = {}
    for split, count in (("train", per_class), ("test", 1)):
        for c, name in enumerate(CLASSES):
            for n in range(count):
                files[f"{split}/{name}/{n:04d}.jpg"] = tuple(int(v) for v in rng.integers(0, 256, 3))
    return files


@pytest.fixture
def archive_dir(tmp_path, monkeypatch, write_cifar_archive):
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "data" / "cifar10").mkdir(parents=True)
    write_cifar_archive(tmp_path / "data" / cifar10_data.RELATIVE_PATH, synthetic_files())
    return tmp_path / "data"


def test_population_is_standardised_with_stable_ids(archive_dir):
    population = Cifar10Task(population_size=20, test_size=5).load(archive_dir, progress=False)
    assert population.x.shape == (20, 3, 32, 32) and population.x.dtype == torch.float32
    assert population.x_test.shape == (5, 3, 32, 32)
    assert population.source == "jpeg"
    assert len(set(population.ids.tolist())) == 20  # positions: class * 5000 + NNNN
    assert set((population.ids // 5000).tolist()) <= set(range(10))
    assert population.y.tolist() == (population.ids // 5000).tolist()
    again = Cifar10Task(population_size=20, test_size=5).load(archive_dir, progress=False)
    assert again.fingerprint == population.fingerprint and np.array_equal(again.ids, population.ids)


def test_sources_never_share_a_fingerprint(archive_dir, monkeypatch):
    jpeg = Cifar10Task(population_size=20, test_size=5).load(archive_dir, progress=False)
    arrays = cifar10_data.read_jpeg_archive(archive_dir / cifar10_data.RELATIVE_PATH, progress=False)
    monkeypatch.setattr(cifar10_data, "load", lambda data_dir, revision, progress=True: ("hub", arrays))
    hub = Cifar10Task(population_size=20, test_size=5).load(None, progress=False)
    assert torch.equal(hub.x, jpeg.x)  # the same pixels, yet...
    assert hub.source == "hub" and hub.fingerprint != jpeg.fingerprint


def test_sizes_out_of_range_are_one_line(archive_dir):
    for params in ({"population_size": 31}, {"test_size": 11}):  # 30 train and 10 test images
        with pytest.raises(UserError, match="task 'cifar10' parameter") as error:
            Cifar10Task(**params).load(archive_dir, progress=False)
        assert "\n" not in str(error.value)
    with pytest.raises(UserError, match="task 'cifar10' parameter 'test_size'"):
        tasks.create("cifar10", {"test_size": "0"})
    with pytest.raises(UserError, match="width"):
        Cifar10Task(width=0)


def test_network_shapes_and_views():
    for width in (4, 64):
        model = airbench_net(width)
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    task = Cifar10Task()
    x = torch.randn(2, 3, 32, 32)
    assert task.augmentations == ("identity", "mirror")
    assert torch.equal(task.augment(x, 1), x.flip(-1))
    # Channel-separable: the airbench network trains grouped.
    group = engine.GroupedModels([engine.initialise(lambda: airbench_net(4), 0, k) for k in range(3)])
    assert group(torch.randn(3, 2, 3, 32, 32)).shape == (3, 2, 10)


def test_metadata_cites_and_pins_its_source():
    meta = Cifar10Task.metadata
    assert meta.citation == ("krizhevsky2009learning",) and "Tiny Images" in citations.entry(meta.citation[0])
    assert meta.revision == cifar10_data.REVISION == "0b2714987fa478483af9968de7c934580d0bb9a2"
    assert meta.class_names == CLASSES and meta.version == "1.0"


def test_small_run_on_the_real_data(data_dir, run_task):
    records = run_task(
        "cifar10", ["loss", "lira"], 4, data_dir=data_dir, track="cpu",
        params={"population_size": "1000", "test_size": "200", "width": "4", "epochs": "3", "batch_size": "32"},
    )  # fmt: skip
    record = records[1]
    assert record.views == 2 and record.classes == 10
    assert record.task.data_source == "jpeg" and record.task.model_family == "airbench-cnn-w4"
    assert record.timings.strategy == "sequential"  # the fastest on the CPU
    assert record.track.overrides == {"population_size": 1000, "test_size": 200, "width": 4, "epochs": 3,
                                      "batch_size": 32, "models": 4}  # fmt: skip
    assert record.recipe.flip and record.recipe.translate == 2
    assert record.utility.test_accuracy.mean > 0.12  # above chance (0.1): 800 predictions, SE about 0.011
