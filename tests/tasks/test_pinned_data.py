"""The data each task version pins per track: well-formed pins, and the real data loading to exactly them."""

import re

import pytest

from miabench.api import TRACKS, DataPin
from miabench.errors import UserError
from miabench.registry import tasks
from miabench.runner import track_params
from miabench.tasks.text_models import FAMILIES

# Loading decodes CIFAR-10's 60,000 JPEGs (~20 s on 2 cores); the other tasks load in a second or two.
SLOW_TASKS = {"cifar10"}


def metadata(name):
    return tasks.entry(name).component_class.metadata


def pinned():
    """Every (task, track) with a pin, the slow loads marked."""
    cases = []
    for name in tasks.names():
        for track in metadata(name).pinned_data:
            marks = [pytest.mark.slow] if name in SLOW_TASKS else []
            cases.append(pytest.param(name, track, marks=marks, id=f"{name}-{track}"))
    return cases


def load(name, track, data_dir, **params):
    """The population a run on ``track`` loads (as miabench.runner.prepare builds the task); skip without its data."""
    task = tasks.create(name, track_params(tasks.entry(name).component_class, track) | params)
    try:
        return task.load(data_dir, False)
    except UserError as error:
        if str(error).startswith("missing data file"):
            pytest.skip(f"task '{name}': {error}")
        raise


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache folder for the module's loads (CIFAR-10 decodes once for both tracks), outside the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MIABENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


def test_pins_are_sha256_on_known_tracks():
    assert any(metadata(name).pinned_data for name in tasks.names())
    for name in tasks.names():
        meta = metadata(name)
        for track, pin in meta.pinned_data.items():
            assert track in TRACKS, (name, track)
            assert isinstance(pin, DataPin), (name, track)
            assert isinstance(pin.examples, int) and pin.examples > 0, (name, track)
            assert re.fullmatch("[0-9a-f]{64}", pin.fingerprint), (name, track)
            assert meta.pin(track) is pin
        assert meta.pin("tpu") is None
        if tasks.entry(name).component_class.gpu_profile is None:
            # The GPU track pins no task parameters here: its population would be the CPU track's.
            assert "gpu" not in meta.pinned_data, name


def test_pins_are_frozen_and_metadata_stays_hashable():
    meta = metadata("location")
    with pytest.raises(TypeError):
        meta.pinned_data["gpu"] = meta.pin("cpu")
    hash(meta)
    assert metadata("purchase100").pin("cpu") is None  # no offline copy to pin it on yet


@pytest.mark.parametrize(("name", "track"), pinned())
def test_loading_gives_the_pinned_data(data_dir, cache, name, track):
    # A text task's fingerprint covers its texts and labels, never a family's features: the cheapest family loads.
    params = {"family": "ngram-mlp"} if "family" in tasks.entry(name).component_class.__dataclass_fields__ else {}
    population = load(name, track, data_dir, **params)
    pin = metadata(name).pin(track)
    assert (len(population), population.fingerprint) == (pin.examples, pin.fingerprint)


@pytest.mark.slow  # minilm-head embeds every text on the CPU
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_text_pins_hold_for_every_family(data_dir, cache, family):
    population = load("support", "cpu", data_dir, family=family)
    pin = metadata("support").pin("cpu")
    assert (len(population), population.fingerprint) == (pin.examples, pin.fingerprint)
