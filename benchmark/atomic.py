"""Atomic file writes and checksums: a killed run never leaves a half-written file, a full disk or a
read-only folder is a one-line error naming the file, and a damaged work file is detected, not trusted."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import warnings
from pathlib import Path

import numpy as np

from miabench.errors import UserError

DIGEST = hashlib.sha256().digest_size  # a checked file ends with the sha256 of what precedes it


def unwritable(path: Path, error: OSError) -> UserError:
    """The one message for a file that cannot be written (full disk, read-only or missing folder)."""
    reason = error.strerror or type(error).__name__
    return UserError(
        f"cannot write {path} ({reason}): free space on that disk or make the folder writable, "
        "or give another folder (--cache-dir or MIABENCH_CACHE_DIR for the cache, --out for results)"
    )


@contextlib.contextmanager
def writing(path: Path):
    """A binary file to write ``path`` through: a temporary beside it, renamed into place when the block ends.

    The temporary is made by ``open(..., "xb")``, not mkstemp, so the file gets the mode any ``open()``
    gives (0666 less the umask), not 0600. An OSError (e.g. ENOSPC) becomes :func:`unwritable`.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "xb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise unwritable(path, error) from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes, *, checked: bool = False) -> None:
    """Write ``data`` to ``path`` atomically; ``checked`` appends its sha256 (read it back with read_checked)."""
    with writing(path) as out:
        out.write(data)
        if checked:
            out.write(hashlib.sha256(data).digest())


def read_checked(path: Path) -> bytes | None:
    """The data of a file written with ``checked=True``, or None when it is absent or fails its checksum
    (truncated, bit-flipped): then it is removed, with a one-line warning, so its content is recomputed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    data, digest = raw[:-DIGEST], raw[-DIGEST:]
    if hashlib.sha256(data).digest() == digest:
        return data
    warnings.warn(f"{path} is damaged (checksum mismatch); discarding it and computing it again", stacklevel=2)
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
    return None


def write_json(path: Path, obj) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def save_npz(path: Path, **arrays) -> None:
    write_bytes(path, npz_bytes(**arrays))


def save_torch(obj, path: Path) -> None:
    """``torch.save`` with a checksum (for checkpoints): read it back with :func:`load_torch`."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getvalue(), checked=True)


def load_torch(path: Path, **kwargs):
    """What :func:`save_torch` wrote (``kwargs`` go to ``torch.load``), or None when absent or damaged."""
    import torch

    data = read_checked(path)
    return None if data is None else torch.load(io.BytesIO(data), **kwargs)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
