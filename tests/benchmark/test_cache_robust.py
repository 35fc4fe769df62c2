"""The cache as runs meet it: an unwritable or full cache, damaged parts and checkpoints, a diverging run,
and two runs of one configuration at once."""

import dataclasses
import errno
import io
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from miabench import atomic, cache, harness
from miabench.cache import SignalsCache
from miabench.errors import UserError
from miabench.harness import compute_signals


class Killed(Exception):
    """Stands for the process dying at that point."""


def no_training(*args, **kwargs):
    raise AssertionError("nothing may train")


@pytest.fixture
def clean_logits(tmp_path_factory, toy_setup):
    """The toy setup's logits from a run nothing went wrong in."""
    signals, _ = compute_signals(toy_setup(), SignalsCache(tmp_path_factory.mktemp("clean")), progress=False)
    return signals.logits


def one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# --- an unwritable or full cache ------------------------------------------------------------------------


def test_read_only_cache_is_one_line_before_training(tmp_path, monkeypatch, toy_setup):
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(cache.os, "open", read_only)
    monkeypatch.setattr(harness, "train_group", no_training)
    with pytest.raises(UserError) as error:
        compute_signals(toy_setup(), SignalsCache(tmp_path), progress=False)
    message = one_line(error)
    assert str(tmp_path) in message and "Read-only file system" in message and "--cache-dir" in message


def test_cache_that_is_a_file_is_one_line_before_training(tmp_path, monkeypatch, toy_setup):
    (tmp_path / "cache").write_text("not a folder")
    monkeypatch.setattr(harness, "train_group", no_training)
    with pytest.raises(UserError) as error:
        compute_signals(toy_setup(), SignalsCache(tmp_path / "cache"), progress=False)
    assert str(tmp_path / "cache") in one_line(error)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_chmod_read_only_cache_is_one_line(tmp_path, monkeypatch, toy_setup):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache").chmod(0o555)
    monkeypatch.setattr(harness, "train_group", no_training)
    with pytest.raises(UserError) as error:
        compute_signals(toy_setup(), SignalsCache(tmp_path / "cache"), progress=False)
    assert str(tmp_path / "cache") in one_line(error)


def test_full_disk_while_training_is_one_line_naming_the_file(tmp_path, monkeypatch, toy_setup):
    class FullDisk(io.FileIO):
        def write(self, b):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic, "open", FullDisk, raising=False)
    with pytest.raises(UserError) as error:
        compute_signals(toy_setup(), SignalsCache(tmp_path), progress=False)
    message = one_line(error)
    assert "No space left on device" in message and ".ckpt" in message and str(tmp_path) in message
    assert not list(tmp_path.rglob("*.tmp"))


# --- damaged parts and checkpoints ----------------------------------------------------------------------


def flip_low_bit(path, at=0.5):
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * at)] ^= 0x01
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    "damage", [lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), flip_low_bit], ids=["cut", "flip"]
)
def test_damaged_part_is_retrained_with_a_warning(tmp_path, monkeypatch, toy_setup, clean_logits, damage):
    store = SignalsCache(tmp_path)
    monkeypatch.setattr(store, "store", lambda *args, **kwargs: (_ for _ in ()).throw(Killed()))
    with pytest.raises(Killed):
        compute_signals(toy_setup(), store, progress=False)
    monkeypatch.undo()
    (part,) = tmp_path.rglob("models-*.npz")
    damage(part)
    with pytest.warns(UserWarning, match=f"{part.name} is damaged"):
        signals, info = compute_signals(toy_setup(), store, progress=False)
    assert info["cache_hit"] is False
    np.testing.assert_array_equal(signals.logits, clean_logits)


def test_bit_flipped_checkpoint_is_discarded_not_trusted(tmp_path, monkeypatch, toy_setup, clean_logits):
    """A flipped low mantissa bit in a finished group's checkpoint would silently change its logits."""
    store = SignalsCache(tmp_path)
    monkeypatch.setattr(harness, "save_part", lambda *args: (_ for _ in ()).throw(Killed()))
    with pytest.raises(Killed):  # trained to the last epoch, then killed before the part was saved
        compute_signals(toy_setup(), store, progress=False)
    monkeypatch.undo()
    (checkpoint,) = tmp_path.rglob("*.ckpt")
    flip_low_bit(checkpoint)
    with pytest.warns(UserWarning, match=f"{checkpoint.name} is damaged"):
        signals, _ = compute_signals(toy_setup(), store, progress=False)
    np.testing.assert_array_equal(signals.logits, clean_logits)


# --- a diverging run ------------------------------------------------------------------------------------


def test_diverging_run_says_lower_the_learning_rate_and_saves_nothing(tmp_path, toy_setup):
    setup = dataclasses.replace(toy_setup(), recipe=dataclasses.replace(toy_setup().recipe, lr=1e30))
    with pytest.raises(UserError) as error:
        compute_signals(setup, SignalsCache(tmp_path), progress=False)
    message = one_line(error)
    assert message.startswith("training diverged (non-finite") and "lower the learning rate (lr)" in message
    assert "write finite logits" not in message
    assert not [path for path in tmp_path.rglob("*") if path.suffix in (".npz", ".ckpt")]


def test_non_finite_logits_are_refused_before_the_part_is_saved(tmp_path, monkeypatch, toy_setup):
    real = harness.train_group

    def nan_logits(*args):
        logits, *rest = real(*args)
        logits[0, 0, 0, 0] = np.nan
        return (logits, *rest)

    monkeypatch.setattr(harness, "train_group", nan_logits)
    for _ in range(2):  # the rerun meets no saved part it cannot use: it says the same
        with pytest.raises(UserError, match=r"^training diverged \(non-finite logits\) in models 0\.\.3") as error:
            compute_signals(toy_setup(), SignalsCache(tmp_path), progress=False)
        assert "lower the learning rate (lr)" in one_line(error)
        assert not list(tmp_path.rglob("models-*.npz"))


# --- two runs of one configuration ----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:another run is training")
def test_second_run_waits_for_the_first_and_reuses_its_entry(tmp_path, monkeypatch, toy_setup):
    real, trained, training = harness.train_group, [], threading.Event()

    def slow_train(setup, indices, *args):
        trained.append(indices)
        training.set()
        time.sleep(0.5)  # time for the second run to reach the entry while the first trains
        return real(setup, indices, *args)

    monkeypatch.setattr(harness, "train_group", slow_train)
    results = {}

    def run(name):
        results[name] = compute_signals(toy_setup(), SignalsCache(tmp_path), progress=False)

    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert training.wait(60)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    first.join(120)
    second.join(120)
    assert trained == [[0, 1, 2, 3]]  # trained once
    assert results["first"][1]["cache_hit"] is False and results["second"][1]["cache_hit"] is True
    np.testing.assert_array_equal(results["first"][0].logits, results["second"][0].logits)


@pytest.mark.filterwarnings("ignore:another run is training")
def test_lock_of_a_killed_run_does_not_block(tmp_path):
    hold = (
        f"import time\nfrom miabench.cache import SignalsCache\nwith SignalsCache({str(tmp_path)!r}).lock('ab' * 32):\n"
        "    print('held', flush=True)\n    time.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        acquired = threading.Event()

        def take():
            with SignalsCache(tmp_path).lock("ab" * 32):
                acquired.set()

        waiter = threading.Thread(target=take)
        waiter.start()
        assert not acquired.wait(0.5)  # held by the live process: it waits
        os.kill(holder.pid, signal.SIGKILL)
        assert acquired.wait(30)  # the dead process's lock is gone
        waiter.join(30)
    finally:
        holder.kill()
        holder.wait()
