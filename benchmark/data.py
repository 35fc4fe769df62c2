"""Helpers tasks share: where the data lives, fetching it, fingerprinting and deduplicating it, and
drawing a task's population and test set."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import lzma
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np
import platformdirs

from miabench.atomic import writing
from miabench.errors import UserError

DATA_DIR_ENV = "MIABENCH_DATA_DIR"
CACHE_DIR_ENV = "MIABENCH_CACHE_DIR"
SPLIT_SEED = 0  # fixed for every task, not the run seed, so every run sees the same population


def data_dir(explicit: str | Path | None = None) -> Path | None:
    """The local data folder: ``explicit``, else ``$MIABENCH_DATA_DIR``, else None (use the public source)."""
    chosen = explicit if explicit not in (None, "") else os.environ.get(DATA_DIR_ENV)
    return Path(chosen).expanduser() if chosen else None


def require_file(data_dir: str | Path, relative: str, how_to_get: str) -> Path:
    """``data_dir / relative``, or a one-line UserError; ``how_to_get`` completes "or unset it to ..."."""
    path = Path(data_dir) / relative
    if not path.is_file():
        raise UserError(
            f"missing data file {path}: set {DATA_DIR_ENV} (or --data-dir) to a folder holding {relative}, "
            f"or unset it to {how_to_get}"
        )
    return path


# What decoding a truncated or corrupt file raises: decompressors and archives, np.load (KeyError for a missing
# array) and parsers (pandas' ParserError, UnicodeDecodeError and JSONDecodeError are ValueErrors).
DAMAGE = (EOFError, ValueError, KeyError, zlib.error, lzma.LZMAError, gzip.BadGzipFile, tarfile.TarError,
          zipfile.BadZipFile)  # fmt: skip


@contextlib.contextmanager
def reading(path: str | Path, source: str):
    """Decode the file ``path`` inside this block: whatever its decoding raises (see DAMAGE) becomes the
    one-line UserError "<path> is damaged (<reason>): get it again from <source> ...", not a traceback."""
    try:
        yield
    except DAMAGE as error:
        reason = str(error.args[0] if isinstance(error, KeyError) and error.args else error)
        reason = (reason.strip().splitlines() or [type(error).__name__])[0]
        raise UserError(f"{path} is damaged ({reason}): get it again from {source} and replace it") from None


def fingerprint(*arrays) -> str:
    """Hex sha256 over the dtype, shape and bytes of each array, in order."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(np.asarray(array))
        # dtype and shape are hashed too, so equal bytes read differently never collide.
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def deduplicate(x: np.ndarray) -> np.ndarray:
    """Sorted indices of the rows to keep: the first occurrence of each exact (byte-equal) duplicate."""
    rows = np.ascontiguousarray(np.asarray(x).reshape(len(x), -1))
    # One opaque bytes key per row: much faster to sort than np.unique(axis=0).
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, first = np.unique(keys, return_index=True)  # return_index gives first occurrences
    return np.sort(first)


def load_hub(hub_id: str, local_copy: str, config: str | None = None, revision: str | None = None):
    """``datasets.load_dataset(hub_id, config, revision=revision)``, or a one-line UserError naming
    ``local_copy`` when the Hub cannot be reached. ``revision`` pins the dataset's commit (None: the newest)."""
    import datasets  # slow to import; only the public sources need it

    try:
        return datasets.load_dataset(hub_id, config, revision=revision)
    except Exception as error:  # noqa: BLE001 - offline or refused: requests, httpx and datasets errors share no base
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        name = f"{hub_id} (config {config})" if config else hub_id
        raise UserError(
            f"cannot load {name} from the Hugging Face Hub ({reason}): set {DATA_DIR_ENV} (or --data-dir) "
            f"to a folder holding {local_copy}"
        ) from None


def split(
    candidates: np.ndarray, test_size: int, population_size: int | None = None, *, task: str,
    test_split: int | None = None, shuffle_test: bool = True,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The population and the test set of task ``task``, as indices, drawn with SPLIT_SEED.

    From one pool (``test_split`` None): a shuffle of ``candidates`` (e.g. the distinct rows), whose first
    ``test_size`` are the test set and the next ``population_size`` the population (None: all the rest).
    With a separate official test split of ``test_split`` examples: the population is the first
    ``population_size`` of a shuffle of ``candidates``, the test set the first ``test_size`` positions of the
    test split, shuffled first by the same generator when ``shuffle_test``. A size the data cannot meet is a
    one-line UserError.
    """
    rng = np.random.default_rng(SPLIT_SEED)
    n = len(candidates)
    if test_split is None:
        _check_size(task, "test_size", test_size, n - 1, f"the data has {n} distinct examples")
        left = n - test_size
        if population_size is not None:
            why = f"the data has {n} distinct examples, test_size={test_size} of them held out"
            _check_size(task, "population_size", population_size, left, why)
        order = candidates[rng.permutation(n)]
        return order[test_size : test_size + (population_size or left)], order[:test_size]
    _check_size(task, "population_size", population_size, n, f"the train split has {n} distinct examples")
    _check_size(task, "test_size", test_size, test_split, f"the test split has {test_split} examples")
    population = candidates[rng.permutation(n)][:population_size]
    test = rng.permutation(test_split) if shuffle_test else np.arange(test_split)
    return population, test[:test_size]


def _check_size(task: str, name: str, value: int, limit: int, why: str) -> None:
    if not 0 < value <= limit:
        raise UserError(
            f"task '{task}' parameter {name}={value} must be between 1 and {limit} ({why}); give e.g. {name}={limit}"
        )


def cache_root() -> Path:
    """Where miabench keeps what it computes and downloads: ``$MIABENCH_CACHE_DIR``, else the user cache folder."""
    return Path(os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir("miabench")).expanduser()


def cache_dir() -> Path:
    """Where downloads are kept: ``<cache root>/downloads``."""
    return cache_root() / "downloads"


def download(url: str, cache_name: str, *, local_copy: str = "a local copy of the data") -> Path:
    """The file at ``url``, downloaded once into the cache as ``cache_name``.

    ``local_copy`` names what a data folder should hold, for the message when the network fails.
    """
    target = cache_dir() / cache_name
    if target.is_file():
        return target
    with writing(target) as out:  # an interrupted download never looks complete
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise UserError(
                f"cannot download {url} ({reason}): set {DATA_DIR_ENV} (or --data-dir) to a folder holding {local_copy}"
            ) from None
    return target
