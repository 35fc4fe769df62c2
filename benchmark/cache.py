"""A content-addressed store of signals cubes and the models that produced them.

An entry's key is the hash of everything that determines the trained models (task
version and params, data fingerprint, plan, defense, recipe, seed, precision), so a
rerun of the same configuration trains nothing. Each entry records its file's
checksum; an entry that fails it is discarded and recomputed. Runs of one configuration
train it one at a time (:meth:`SignalsCache.lock`): the later ones reuse what the first stored.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

from miabench.atomic import save_npz, sha256_file, unwritable, write_json
from miabench.data import cache_root
from miabench.errors import UserError
from miabench.signals import Signals

FILES = ("signals.npz", "models.npz")  # an entry: the cube, and the weights of the models behind it


def config_hash(config: dict) -> str:
    """The sha256 of a JSON-serialisable configuration, independent of key order."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


class SignalsCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else cache_root()

    def entry(self, key: str) -> Path:
        return self.root / "signals" / key[:2] / key

    def work_dir(self, key: str) -> Path:
        """Where an entry's partial results and checkpoints live until it is complete."""
        return self.entry(key) / "work"

    def load(self, key: str) -> Signals | None:
        """The entry's signals, or None when it is absent or fails its checksums (then it is removed)."""
        entry = self.entry(key)
        meta_path = entry / "meta.json"
        files = [entry / name for name in FILES]
        if not meta_path.exists() or not all(path.exists() for path in files):
            return None
        try:
            meta = json.loads(meta_path.read_text())
            for path in files:
                if sha256_file(path) != meta["sha256"][path.name]:
                    raise ValueError(f"{path.name}: checksum mismatch")
            return Signals.load(entry / "signals.npz", limit=False)  # its own file: no size cap
        except (ValueError, KeyError, TypeError, UserError) as error:
            warnings.warn(f"cache entry {entry} is corrupted ({error}); recomputing it", stacklevel=2)
            with contextlib.suppress(OSError):  # a read-only cache says so when it is written
                for path in [meta_path, *files]:
                    path.unlink(missing_ok=True)
            return None

    @contextlib.contextmanager
    def lock(self, key: str):
        """Hold the entry's lock: another run of the same configuration waits here until this one is done.

        An exclusive ``flock`` on ``<entry>/lock``; the system releases it when the process ends, so a
        killed run never leaves a stale lock. An unwritable cache is a one-line UserError before training.
        """
        path = self.entry(key) / "lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise unwritable(path, error) from None
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                warnings.warn(f"another run is training these models (it holds {path}); waiting for it", stacklevel=3)
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)  # releases the lock

    def load_weights(self, key: str) -> dict[str, np.ndarray]:
        """The trained models' weights of a complete entry, as flat arrays (see harness.flatten_weights)."""
        with np.load(self.entry(key) / "models.npz") as arrays:
            return {name: arrays[name] for name in arrays.files}

    def facts(self, key: str) -> dict[str, list[float]]:
        """What the defense reported per model when the entry was trained (e.g. the accountant's epsilon)."""
        return json.loads((self.entry(key) / "meta.json").read_text()).get("facts", {})

    def store(self, key: str, signals: Signals, config: dict, weights: dict[str, np.ndarray], facts=None) -> None:
        entry = self.entry(key)
        signals.save(entry / "signals.npz")
        save_npz(entry / "models.npz", **weights)
        checksums = {name: sha256_file(entry / name) for name in FILES}
        write_json(entry / "meta.json", {"key": key, "sha256": checksums, "config": config, "facts": facts or {}})
        shutil.rmtree(self.work_dir(key), ignore_errors=True)
