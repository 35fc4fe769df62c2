"""The signals cube and its public file format, ``signals.npz``.

``logits`` float32 [K, N, A, C]: model k's logits on example n under view a;
``labels`` int64 [N]; ``members`` bool [K, N]: whether model k trained on example n.
Files written by the harness also carry what utility is measured on: ``test_logits``
float32 [K, M, C], each model's logits on M test examples, and ``test_labels`` int64 [M].
Anyone who trained models elsewhere can write this file and score every attack on it.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from miabench.atomic import save_npz
from miabench.errors import UserError

REQUIRED = ("logits", "labels", "members")
UTILITY = ("test_logits", "test_labels")


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
        fix = "see 'signals.npz' in the README for the format"
        logits, labels, members = self.logits, self.labels, self.members
        if logits.ndim != 4:
            raise UserError(f"{source}: logits has shape {logits.shape}, expected [K, N, A, C] (4 axes); {fix}")
        if not np.issubdtype(logits.dtype, np.floating):
            raise UserError(f"{source}: logits has dtype {logits.dtype}, expected float32; {fix}")
        k, n, _, c = logits.shape
        if k < 2:
            raise UserError(f"{source}: {k} model(s); leave-one-out attacks need K >= 2 models")
        if c < 2:
            raise UserError(f"{source}: logits have {c} class(es), expected at least 2; {fix}")
        if not np.isfinite(logits).all():
            bad = int((~np.isfinite(logits)).sum())
            raise UserError(f"{source}: logits contain {bad} NaN or infinite values; write finite logits")
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise UserError(f"{source}: labels has shape {labels.shape} and dtype {labels.dtype}, expected int64 [{n}]")
        if labels.size and (labels.min() < 0 or labels.max() >= c):
            raise UserError(f"{source}: labels must lie in 0..{c - 1} for {c} classes")
        if members.dtype != np.bool_:
            raise UserError(f"{source}: members has dtype {members.dtype}, expected bool; write members.astype(bool)")
        if members.shape != (k, n):
            raise UserError(f"{source}: members has shape {members.shape}, expected [K, N] = [{k}, {n}]")
        test_logits, test_labels = self.test_logits, self.test_labels
        if (test_logits is None) != (test_labels is None):
            raise UserError(f"{source}: give test_logits and test_labels together, or neither")
        if test_logits is not None:
            m = len(test_labels)
            if test_logits.shape != (k, m, c):
                raise UserError(
                    f"{source}: test_logits has shape {test_logits.shape}, expected [K, M, C] = [{k}, {m}, {c}]"
                )
            if not np.issubdtype(test_labels.dtype, np.integer) or (
                m and not 0 <= test_labels.min() <= test_labels.max() < c
            ):
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
    def load(cls, path: Path) -> Signals:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"signals file {path} does not exist; give the path of a signals.npz file")
        if not zipfile.is_zipfile(path):  # np.load would read a .npy file as a bare array
            raise UserError(f"{path}: not a .npz file (not a zip archive); write it with numpy.savez")
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [key for key in REQUIRED if key not in data.files]
                if missing:
                    raise UserError(f"{path}: missing array(s) {', '.join(missing)}; a signals file holds {REQUIRED}")
                arrays = {key: data[key] for key in data.files if key in (*REQUIRED, *UTILITY)}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
            raise UserError(f"{path}: not a readable .npz file ({error}); write it with numpy.savez") from None
        return cls(**arrays).validate(str(path))
