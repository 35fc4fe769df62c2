"""The signals cube and its public file format, ``signals.npz``.

``logits`` float32 [K, N, A, C]: model k's logits on example n under view a;
``labels`` int64 [N]; ``members`` bool [K, N]: whether model k trained on example n.
Files written by the harness also carry what utility is measured on: ``test_logits``
float32 [K, M, C], each model's logits on M test examples, and ``test_labels`` int64 [M].
Anyone who trained models elsewhere can write this file and score every attack on it.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from miabench.atomic import save_npz
from miabench.errors import UserError

REQUIRED = ("logits", "labels", "members")
UTILITY = ("test_logits", "test_labels")
MAX_GIB = 4  # the most a signals file's arrays may hold: 2**30 float32 logits, e.g. K=64, N=50,000, A=2, C=160
FIX = "see 'signals.npz' in the README for the format"


def check_layout(source: str, layout: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
    """Raise a one-line UserError for the first shape or dtype that does not fit the format.

    ``layout`` maps each array given to its (shape, dtype): from the arrays, or from a file's headers
    before anything is loaded.
    """
    shape, dtype = layout["logits"]
    if len(shape) != 4:
        raise UserError(f"{source}: logits has shape {shape}, expected [K, N, A, C] (4 axes); {FIX}")
    if not np.issubdtype(dtype, np.floating):
        raise UserError(f"{source}: logits has dtype {dtype}, expected float32; {FIX}")
    k, n, a, c = shape
    if k < 2:
        raise UserError(f"{source}: {k} model(s); leave-one-out attacks need K >= 2 models")
    if c < 2:
        raise UserError(f"{source}: logits have {c} class(es), expected at least 2; {FIX}")
    if n == 0 or a == 0:
        raise UserError(f"{source}: logits has shape {shape}, with no examples (N) or no views (A); write at least one")
    shape, dtype = layout["labels"]
    if shape != (n,) or not np.issubdtype(dtype, np.integer):
        raise UserError(f"{source}: labels has shape {shape} and dtype {dtype}, expected int64 [{n}]")
    shape, dtype = layout["members"]
    if dtype != np.bool_:
        raise UserError(f"{source}: members has dtype {dtype}, expected bool; write members.astype(bool)")
    if shape != (k, n):
        raise UserError(f"{source}: members has shape {shape}, expected [K, N] = [{k}, {n}]")
    if ("test_logits" in layout) != ("test_labels" in layout):
        raise UserError(f"{source}: give test_logits and test_labels together, or neither")
    if "test_logits" in layout:
        (shape, dtype), (label_shape, label_dtype) = layout["test_logits"], layout["test_labels"]
        if len(label_shape) != 1 or not np.issubdtype(label_dtype, np.integer):
            raise UserError(f"{source}: test_labels must be integers in 0..{c - 1}, shape [M] (not {label_shape})")
        if shape != (k, label_shape[0], c):
            raise UserError(
                f"{source}: test_logits has shape {shape}, expected [K, M, C] = [{k}, {label_shape[0]}, {c}]"
            )
        if not np.issubdtype(dtype, np.floating):
            raise UserError(f"{source}: test_logits has dtype {dtype}, expected float32; {FIX}")


def _finite(source: str, name: str, values: np.ndarray) -> None:
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise UserError(f"{source}: {name} contain {bad} NaN or infinite values; write finite logits")


@dataclass
class Signals:
    logits: np.ndarray
    labels: np.ndarray
    members: np.ndarray
    test_logits: np.ndarray | None = None
    test_labels: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(K, N, A, C)."""
        return self.logits.shape

    def validate(self, source: str = "signals") -> Signals:
        """Raise a one-line UserError naming the first inconsistency found."""
        arrays = {name: getattr(self, name) for name in (*REQUIRED, *UTILITY) if getattr(self, name) is not None}
        check_layout(source, {name: (np.shape(value), np.asarray(value).dtype) for name, value in arrays.items()})
        c = self.logits.shape[-1]
        _finite(source, "logits", self.logits)
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() >= c):
            raise UserError(f"{source}: labels must lie in 0..{c - 1} for {c} classes")
        if self.test_logits is not None:
            _finite(source, "test_logits", self.test_logits)
            if self.test_labels.size and not 0 <= self.test_labels.min() <= self.test_labels.max() < c:
                raise UserError(f"{source}: test_labels must be integers in 0..{c - 1}")
        return self

    def save(self, path: Path) -> None:
        arrays = {"logits": self.logits.astype(np.float32), "labels": self.labels.astype(np.int64)}
        arrays["members"] = self.members.astype(bool)
        if self.test_logits is not None:
            arrays["test_logits"] = self.test_logits.astype(np.float32)
            arrays["test_labels"] = self.test_labels.astype(np.int64)
        save_npz(path, **arrays)

    @classmethod
    def load(cls, path: Path, limit: bool = True) -> Signals:
        """The signals of a .npz file, checked from its array headers (shapes, dtypes and, with ``limit``,
        the MAX_GIB cap) before any array is decompressed, then in full."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"signals file {path} does not exist; give the path of a signals.npz file")
        if not zipfile.is_zipfile(path):  # np.load would read a .npy file as a bare array
            raise UserError(f"{path}: not a .npz file (not a zip archive); write it with numpy.savez")
        try:
            layout = _headers(path)
            missing = [key for key in REQUIRED if key not in layout]
            if missing:
                raise UserError(f"{path}: missing array(s) {', '.join(missing)}; a signals file holds {REQUIRED}")
            check_layout(str(path), layout)
            size = sum(math.prod(shape) * dtype.itemsize for shape, dtype in layout.values()) / 2**30
            if limit and size > MAX_GIB:
                raise UserError(
                    f"{path}: its arrays would take {size:.1f} GiB, over the {MAX_GIB} GiB a signals file may hold; "
                    "write fewer models, examples, views or classes (e.g. the top classes' logits only)"
                )
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in layout}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as error:
            raise UserError(f"{path}: not a readable .npz file ({error}); write it with numpy.savez") from None
        return cls(**arrays).validate(str(path))


def _headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """(shape, dtype) of each signals array in the .npz file, from its .npy header: only the first bytes of
    each member are decompressed, so a file declaring more than memory holds is refused before it is read."""
    layout = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            if name not in (*REQUIRED, *UTILITY):
                continue
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = header(member)
            layout[name] = (shape, dtype)
    return layout
