"""The mnist task: the Hub conversion, the real split, the shift view and the model."""

import numpy as np
import pytest
import torch

from miabench import data
from miabench.errors import UserError
from miabench.registry import tasks
from miabench.tasks import mnist
from miabench.tasks.mnist import MnistTask, hub_to_arrays


def test_registered_with_typed_params():
    task = tasks.create("mnist", {"population_size": "200", "epochs": "3"})
    assert isinstance(task, MnistTask) and task.population_size == 200 and task.recipe().epochs == 3


def test_hub_conversion():
    datasets = pytest.importorskip("datasets")
    image_module = pytest.importorskip("PIL.Image")
    pixels = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    split = datasets.Dataset.from_dict({"image": [image_module.fromarray(p) for p in pixels], "label": [7, 0, 3]})
    images, labels = hub_to_arrays(split)
    assert images.dtype == np.uint8 and labels.dtype == np.uint8
    assert np.array_equal(images, pixels)
    assert labels.tolist() == [7, 0, 3]


def test_public_source_reads_the_pinned_revision(fake_hub):
    image_module = pytest.importorskip("PIL.Image")
    pixels = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    columns = {"image": [image_module.fromarray(p) for p in pixels], "label": [1, 2, 3, 4]}
    calls = fake_hub({"train": columns, "test": columns})
    population = MnistTask(population_size=3, test_size=2).load(None)
    assert calls == [(mnist.HUB_NAME, MnistTask.metadata.revision)]
    assert len(population) == 3 and population.y_test.tolist() == [1, 2]  # the first examples of the test split


@pytest.fixture(scope="module")
def mnist_population(data_dir):
    return MnistTask().load(data_dir)


def test_real_split(data_dir, mnist_population):
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


def test_fingerprint(data_dir, mnist_population):
    again = MnistTask().load(data_dir)
    assert again.fingerprint == mnist_population.fingerprint
    assert np.array_equal(again.ids, mnist_population.ids)
    assert MnistTask(population_size=5000).load(data_dir).fingerprint != mnist_population.fingerprint


def test_shift_view(mnist_population):
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


def test_missing_file(tmp_path):
    with pytest.raises(UserError) as error:
        MnistTask().load(tmp_path)
    assert str(tmp_path / "mnist" / "mnist.npz") in str(error.value)


def test_model_shapes_and_stacks_under_vmap(stacks_under_vmap):
    stacks_under_vmap(MnistTask(), torch.zeros(4, 1, 28, 28), 10)


def test_metadata_and_recipe():
    meta = MnistTask.metadata
    assert MnistTask.pinned_recipe.epochs == 10
    assert meta.version == "1.0" and meta.default_models == 16 and meta.citation == ("lecun1998gradient",)
    assert meta.revision == "77f3279092a1c1579b2250db8eafed0ad422088c"
