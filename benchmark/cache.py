"""A content-addressed store of signals cubes.

An entry's key is the hash of everything that determines the trained models (task
version and params, data fingerprint, plan, defense, recipe, seed, precision), so a
rerun of the same configuration trains nothing. Each entry records its file's
checksum; an entry that fails it is discarded and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

import platformdirs

from miabench.atomic import sha256_file, write_json
from miabench.errors import UserError
from miabench.signals import Signals


def default_root() -> Path:
    return Path(os.environ.get("MIABENCH_CACHE_DIR") or platformdirs.user_cache_dir("miabench"))


def config_hash(config: dict) -> str:
    """The sha256 of a JSON-serialisable configuration, independent of key order."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


class SignalsCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    def entry(self, key: str) -> Path:
        return self.root / "signals" / key[:2] / key

    def work_dir(self, key: str) -> Path:
        """Where an entry's partial results and checkpoints live until it is complete."""
        return self.entry(key) / "work"

    def load(self, key: str) -> Signals | None:
        entry = self.entry(key)
        path, meta_path = entry / "signals.npz", entry / "meta.json"
        if not (path.exists() and meta_path.exists()):
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if sha256_file(path) != meta["sha256"]:
                raise ValueError("checksum mismatch")
            return Signals.load(path)
        except (ValueError, KeyError, UserError) as error:
            warnings.warn(f"cache entry {entry} is corrupted ({error}); recomputing it", stacklevel=2)
            path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            return None

    def store(self, key: str, signals: Signals, config: dict) -> None:
        entry = self.entry(key)
        signals.save(entry / "signals.npz")
        write_json(entry / "meta.json", {"key": key, "sha256": sha256_file(entry / "signals.npz"), "config": config})
        shutil.rmtree(self.work_dir(key), ignore_errors=True)
