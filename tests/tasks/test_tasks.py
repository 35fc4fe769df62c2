"""Every built-in task: declared parameters, citations by key, and Hub loads pinned to the task's revision."""

import re
import subprocess
import sys

import pytest

from miabench import citations
from miabench.errors import UserError
from miabench.params import declarations
from miabench.registry import tasks

HUB_TASKS = {"mnist", "fashion-mnist", "cifar10", "adult", "distress", "stress", "support", "toxicity", "hate",
             "toxicity-davidson", "depression", "support-dialogue"}  # fmt: skip


def metadata(name):
    return tasks.entry(name).component_class.metadata


def test_every_task_cites_stored_keys():
    for name in tasks.names():
        meta = metadata(name)
        assert isinstance(meta.citation, tuple) and meta.citation, name
        assert all(key in citations.entries() for key in meta.citation), name
    for name in ("location", "purchase100", "texas100"):
        assert metadata(name).citation == ("shokri2017membership",)


def test_every_parameter_is_declared_with_help():
    for name in tasks.names():
        for declaration in declarations(tasks.entry(name).component_class).values():
            assert declaration.help, f"{name}.{declaration.name}"
            if declaration.kind in (int, float):
                assert declaration.within is not None, f"{name}.{declaration.name}"


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("location", {"epochs": "0"}, "task 'location' parameter 'epochs': 0 is not in [1, inf)"),
        ("location", {"test_size": "-1"}, "task 'location' parameter 'test_size': -1 is not in [1, inf)"),
        ("mnist", {"population_size": "0"}, "task 'mnist' parameter 'population_size': 0 is not in [1, inf)"),
        ("cifar10", {"width": "0"}, "task 'cifar10' parameter 'width': 0 is not in [1, inf)"),
        ("adult", {"test_size": "many"}, "task 'adult' parameter 'test_size': cannot read 'many' as an integer"),
        ("purchase100", {"population_size": "none"}, "task 'purchase100' parameter 'population_size': none is not"),
        ("distress", {"family": "foo"}, "'foo' is not one of minilm-head, ngram-mlp, minilm-finetune"),
        ("support", {"test_size": "0"}, "task 'support' parameter 'test_size': 0 is not in [1, inf)"),
    ],
)
def test_parameter_constraints_are_one_line_user_errors(name, params, expected):
    with pytest.raises(UserError) as error:
        tasks.create(name, params)
    message = str(error.value)
    assert "\n" not in message and expected in message and "e.g." in message  # the fix: a valid value


def test_revisions_are_pinned_commits_or_none():
    for name in tasks.names():
        meta = metadata(name)
        assert meta.revision is None or re.fullmatch("[0-9a-f]{40}", meta.revision), name
        if not meta.source.startswith("hf:"):
            assert meta.revision is None, name
    assert {name for name in tasks.names() if metadata(name).source.startswith("hf:")} == HUB_TASKS


@pytest.mark.parametrize("name", sorted(HUB_TASKS))
def test_every_hub_load_passes_the_task_revision(monkeypatch, name):
    datasets = pytest.importorskip("datasets")
    calls = []

    def load_dataset(*args, **kwargs):
        calls.append((args, kwargs))
        raise ConnectionError("offline in the tests")

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    with pytest.raises(UserError, match="offline in the tests"):
        tasks.create(name).load(None, progress=False)
    meta = metadata(name)
    ((args, kwargs),) = calls
    assert kwargs == {"revision": meta.revision}
    assert meta.source.startswith(f"hf:{args[0]}")


def test_reading_the_registry_imports_no_heavy_module():
    heavy = ("sklearn", "transformers", "datasets", "huggingface_hub", "matplotlib", "opacus")
    code = f"import sys; from miabench.registry import tasks; tasks.names(); print([m for m in {heavy} if m in sys.modules])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
