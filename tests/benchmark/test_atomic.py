"""Atomic writes: the mode a normal open() gives, a one-line error on a full disk or an unwritable folder, and
checked files that detect truncation and flipped bits."""

import errno
import io
import os
import stat

import pytest

from miabench import atomic, data
from miabench.errors import UserError


class FullDisk(io.FileIO):
    """A file on a full disk: every write fails with ENOSPC."""

    def write(self, b):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def umask():
    """``umask(mask)``: set the process umask for the test; the old one comes back after it."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_mode_open_gives(tmp_path, umask, mask, mode):
    umask(mask)
    atomic.write_bytes(tmp_path / "a.bin", b"x")
    atomic.write_json(tmp_path / "sub" / "b.json", {"a": 1})
    for path in (tmp_path / "a.bin", tmp_path / "sub" / "b.json"):
        assert stat.S_IMODE(path.stat().st_mode) == mode


def test_downloads_get_the_mode_open_gives(tmp_path, monkeypatch, umask):
    umask(0o022)
    monkeypatch.setenv("MIABENCH_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload")
    assert stat.S_IMODE(data.download(source.as_uri(), "thing.bin").stat().st_mode) == 0o644


def test_full_disk_is_one_line_naming_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    path.write_text("old")
    monkeypatch.setattr(atomic, "open", FullDisk, raising=False)
    with pytest.raises(UserError) as error:
        atomic.write_bytes(path, b"new")
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "No space left on device" in message
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary left behind


def test_unwritable_folder_is_one_line_naming_the_file(tmp_path):
    (tmp_path / "cache").write_text("a file where a folder should be")
    path = tmp_path / "cache" / "signals" / "x.npz"
    with pytest.raises(UserError, match="cannot write .*x.npz") as error:
        atomic.write_bytes(path, b"data")
    assert "\n" not in str(error.value) and "--cache-dir" in str(error.value)


def test_checked_file_round_trip(tmp_path):
    path = tmp_path / "part.npz"
    atomic.write_bytes(path, b"some data", checked=True)
    assert atomic.read_checked(path) == b"some data"
    assert atomic.read_checked(tmp_path / "absent") is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:-5],  # truncated
        lambda raw: raw[:3] + bytes([raw[3] ^ 0x01]) + raw[4:],  # one low bit flipped
        lambda raw: raw[: -atomic.DIGEST],  # written without a checksum
        lambda raw: b"",
    ],
)
def test_damaged_checked_file_is_discarded_with_a_warning(tmp_path, damage):
    path = tmp_path / "models-0000-0003.ckpt"
    atomic.write_bytes(path, b"weights and more weights", checked=True)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.warns(UserWarning, match="models-0000-0003.ckpt is damaged") as caught:
        assert atomic.read_checked(path) is None
    assert "\n" not in str(caught[0].message)
    assert not path.exists()
