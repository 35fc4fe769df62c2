"""The signals cache: hits train nothing, corruption is recomputed, a killed run resumes exactly."""

import numpy as np
import pytest

from miabench import engine, harness
from miabench.cache import SignalsCache
from miabench.harness import compute_signals


class Interrupt(Exception):
    pass


def interrupt_after(monkeypatch, saves: int):
    """Make the engine's checkpoint writer die (like a killed process) after ``saves`` checkpoints."""
    real, calls = engine.save_torch, {"n": 0}

    def dying_save(obj, path):
        if calls["n"] == saves:
            raise Interrupt
        calls["n"] += 1
        real(obj, path)

    monkeypatch.setattr(engine, "save_torch", dying_save)
    return calls


def count_epochs(monkeypatch):
    real, calls = engine.save_torch, {"n": 0}

    def counting_save(obj, path):
        calls["n"] += 1
        real(obj, path)

    monkeypatch.setattr(engine, "save_torch", counting_save)
    return calls


def test_signals_cube_shape_and_content(tmp_path, toy_setup):
    setup = toy_setup()
    signals, info = compute_signals(setup, SignalsCache(tmp_path), progress=False)
    assert signals.shape == (4, 120, 2, 3)
    assert signals.logits.dtype == np.float32
    assert np.array_equal(signals.members, setup.plan.members)
    assert np.array_equal(signals.labels, setup.population.y.numpy())
    assert signals.test_logits.shape == (4, len(setup.population.y_test), 3)
    assert np.array_equal(signals.test_labels, setup.population.y_test.numpy())
    assert ((signals.test_logits.argmax(-1) == signals.test_labels).mean(1) > 1 / 3).all()
    assert info["cache_hit"] is False


def test_second_run_trains_nothing(tmp_path, monkeypatch, toy_setup):
    first, _ = compute_signals(toy_setup(), SignalsCache(tmp_path), progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("a cached configuration must not train")

    monkeypatch.setattr(harness, "train_group", no_training)
    second, info = compute_signals(toy_setup(), SignalsCache(tmp_path), progress=False)
    assert info["cache_hit"] is True
    assert np.array_equal(first.logits, second.logits)


def test_cache_key_changes_with_what_determines_the_models(tmp_path, toy_setup):
    cache = SignalsCache(tmp_path)
    _, base = compute_signals(toy_setup(), cache, progress=False)
    _, other_seed = compute_signals(toy_setup(seed=1), cache, progress=False)
    _, other_params = compute_signals(toy_setup(epochs=2), cache, progress=False)
    assert len({base["cache_key"], other_seed["cache_key"], other_params["cache_key"]}) == 3


def test_corrupted_entry_is_detected_and_recomputed(tmp_path, toy_setup):
    cache = SignalsCache(tmp_path)
    first, info = compute_signals(toy_setup(), cache, progress=False)
    path = cache.entry(info["cache_key"]) / "signals.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="corrupted"):
        again, info = compute_signals(toy_setup(), cache, progress=False)
    assert info["cache_hit"] is False
    assert np.array_equal(first.logits, again.logits)


def test_killed_run_resumes_from_its_last_epoch_bit_for_bit(tmp_path, monkeypatch, toy_setup):
    reference, _ = compute_signals(toy_setup(), SignalsCache(tmp_path / "clean"), progress=False)

    cache = SignalsCache(tmp_path / "killed")
    interrupt_after(monkeypatch, saves=2)
    with pytest.raises(Interrupt):
        compute_signals(toy_setup(), cache, progress=False)
    monkeypatch.undo()

    epochs = count_epochs(monkeypatch)
    resumed, info = compute_signals(toy_setup(), cache, progress=False)
    assert epochs["n"] == toy_setup().recipe.epochs - 2  # only the epochs the killed run had not finished
    assert info["cache_hit"] is False
    assert np.array_equal(resumed.logits, reference.logits)
    assert not cache.work_dir(info["cache_key"]).exists()  # partial state is cleaned up once complete


def test_finished_groups_are_not_retrained(tmp_path, monkeypatch, toy_setup):
    cache = SignalsCache(tmp_path)
    epochs = toy_setup().recipe.epochs
    interrupt_after(monkeypatch, saves=epochs + 1)  # dies one epoch into the second group
    with pytest.raises(Interrupt):
        compute_signals(toy_setup(), cache, models_per_group=2, progress=False)
    monkeypatch.undo()

    trained = []
    real = harness.train_group
    monkeypatch.setattr(harness, "train_group", lambda setup, idx, *a: trained.append(idx) or real(setup, idx, *a))
    resumed, _ = compute_signals(toy_setup(), cache, models_per_group=2, progress=False)
    assert trained == [[2, 3]]
    whole, _ = compute_signals(toy_setup(), SignalsCache(tmp_path / "whole"), progress=False)
    np.testing.assert_allclose(resumed.logits, whole.logits, atol=1e-5)
