"""Fixtures the task tests share: synthetic files in published formats, a stand-in Hub, and the one way
task tests run the benchmark."""

from __future__ import annotations

import io
import tarfile

import pytest
import torch
from torch.func import functional_call, stack_module_state


def _jpeg_bytes(colour, size=(32, 32)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


def _write_cifar_archive(path, files, folders=True):
    with tarfile.open(path, "w:xz") as archive:
        if folders:
            for folder in sorted({name.rsplit("/", 1)[0] for name in files} | {name.split("/")[0] for name in files}):
                info = tarfile.TarInfo(folder)
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
        for name, payload in files.items():
            payload = _jpeg_bytes(payload) if isinstance(payload, tuple) else payload
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


@pytest.fixture
def jpeg_bytes():
    """``jpeg_bytes(colour, size=(32, 32))``: a solid-colour JPEG (quality 75), which survives decoding almost exactly."""
    return _jpeg_bytes


@pytest.fixture
def write_cifar_archive():
    """``write_cifar_archive(path, files, folders=True)``: a tar.xz in CIFAR-10's published JPEG layout.

    ``files`` maps ``<split>/<class>/NNNN.jpg`` to a colour (encoded as a JPEG) or raw bytes; folder
    entries come first, then the files in the order given.
    """
    return _write_cifar_archive


@pytest.fixture
def fake_hub(monkeypatch):
    """``fake_hub(splits)``: ``datasets.load_dataset`` answering with tiny in-memory splits (a dict of
    columns per split) instead of the network; returns the list of ``(hub id, revision)`` it was asked for."""
    datasets = pytest.importorskip("datasets")

    def install(splits):
        calls = []

        def load_dataset(name, *args, **kwargs):
            calls.append((name, kwargs.get("revision")))
            return datasets.DatasetDict({k: datasets.Dataset.from_dict(v) for k, v in splits.items()})

        monkeypatch.setattr(datasets, "load_dataset", load_dataset)
        return calls

    return install


@pytest.fixture
def run_task(tmp_path):
    """``run_task(task, attacks, models, params=None, family=None, **fields)``: the records of one run.

    The one place the task tests call the runner: ``params`` are unrouted ``key=value`` assignments,
    ``fields`` any other run setting; out and cache go under the test's tmp_path unless given.
    """
    from miabench import runner, spec

    def run(task, attacks, models, params=None, family=None, **fields):
        fields = {"out": tmp_path / "out", "cache_dir": tmp_path / "cache", "progress": False} | fields
        return runner.run(spec.make(params, family=family, task=task, attacks=tuple(attacks), models=models, **fields))

    return run


@pytest.fixture
def stacks_under_vmap():
    """``stacks_under_vmap(task, batch, classes)``: assert the family's model maps ``batch`` to ``classes``
    logits, and that K copies stack under vmap, as the engine trains them."""

    def check(task, batch, classes):
        assert task.make_model()(batch).shape == (len(batch), classes)
        assert task.metadata.num_classes == classes
        models = [task.make_model() for _ in range(3)]
        params, buffers = stack_module_state(models)

        def run(p, b, x):
            return functional_call(models[0], (p, b), (x,))

        assert torch.vmap(run, in_dims=(0, 0, None))(params, buffers, batch).shape == (3, len(batch), classes)

    return check
