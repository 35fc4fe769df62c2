"""Tabular tasks: UCI Adult (income), Purchase-100 (shopping baskets) and Texas-100 (hospital discharges).

Each task reads its published format into features and labels, removes exact
duplicate rows, and draws a fixed test set and population with the task-level seed
(:class:`TabularTask`). Purchase-100 and Texas-100 are one task over a table of their
data (:data:`PRIVACYTRUSTLAB`). The model families are plain MLPs (no BatchNorm or
dropout), so the K models train stacked under ``torch.func.vmap``.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn

from miabench.api import DataPin, Population, Recipe, Task, TaskMetadata
from miabench.data import DATA_DIR_ENV, deduplicate, download, fingerprint, load_hub, reading, require_file, split
from miabench.errors import UserError
from miabench.params import param
from miabench.registry import tasks


def mlp(inputs: int, classes: int) -> nn.Module:
    """The ``mlp-256-128`` family: no BatchNorm or dropout, so K copies stack under vmap."""
    return nn.Sequential(
        nn.Linear(inputs, 256),
        nn.ReLU(),
        nn.Linear(256, 128),
        nn.ReLU(),
        nn.Linear(128, classes),
    )


@dataclass
class TabularTask(Task):
    """A task whose rows are feature vectors: dedup, then a fixed test set and population."""

    population_size: int = param(20000, "examples drawn after the test set; at most what is left",
                                 within="[1, inf)")  # fmt: skip
    test_size: int = param(5000, "examples held out for utility", within="[1, inf)")

    pinned_recipe = Recipe(epochs=20, batch_size=128, lr=1e-3, optimizer="adam")
    recipe_grid: ClassVar[dict] = {"lr": (1e-3, 3e-4), "epochs": (5, 20), "weight_decay": (0.0, 1e-4, 1e-3),
                   "balanced_batches": (False, True)}  # fmt: skip

    def read(self, data_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
        """Every source row as features ``[N, F]`` (any numeric dtype) and labels ``[N]`` int64, in source order."""
        raise NotImplementedError

    def load(self, data_dir: Path | None, progress: bool = True) -> Population:
        x, y = self.read(data_dir)
        return self.draw(x, y)

    def draw(self, x: np.ndarray, y: np.ndarray) -> Population:
        """The test set and population, drawn from the distinct rows; ids are source positions."""
        kept = deduplicate(x)  # a duplicate on both sides of the split would corrupt membership labels
        ids, test = split(kept, self.test_size, self.population_size, task=self.metadata.name)

        x_pop, x_test = x[ids].astype(np.float32), x[test].astype(np.float32)
        y_pop, y_test = y[ids].astype(np.int64), y[test].astype(np.int64)
        return Population(
            x=torch.from_numpy(x_pop),
            y=torch.from_numpy(y_pop),
            x_test=torch.from_numpy(x_test),
            y_test=torch.from_numpy(y_test),
            ids=ids,
            fingerprint=fingerprint(x_pop, y_pop, x_test, y_test),
        )


# --- Adult --------------------------------------------------------------------

ADULT_HUB = "scikit-learn/adult-census-income"
ADULT_REVISION = "fbeef6ec0e6fd88a5028b94683144000a6b380d5"  # ADULT_HUB's commit on main with adult.csv
ADULT_FILES = ("adult/adult.data", "adult/adult.test")
ADULT_SOURCE = "archive.ics.uci.edu/dataset/2/adult"  # the original release of both files
ADULT_NUMERIC = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week")
# The categories of the UCI description (adult.names), sorted, plus "?" (missing) where values are missing.
# Fixed in code rather than fitted, so the encoded width (and the model's input) is the same for every source.
ADULT_CATEGORIES = {
    "workclass": (
        "?",
        "Federal-gov",
        "Local-gov",
        "Never-worked",
        "Private",
        "Self-emp-inc",
        "Self-emp-not-inc",
        "State-gov",
        "Without-pay",
    ),
    "education": (
        "10th",
        "11th",
        "12th",
        "1st-4th",
        "5th-6th",
        "7th-8th",
        "9th",
        "Assoc-acdm",
        "Assoc-voc",
        "Bachelors",
        "Doctorate",
        "HS-grad",
        "Masters",
        "Preschool",
        "Prof-school",
        "Some-college",
    ),
    "marital-status": (
        "Divorced",
        "Married-AF-spouse",
        "Married-civ-spouse",
        "Married-spouse-absent",
        "Never-married",
        "Separated",
        "Widowed",
    ),
    "occupation": (
        "?",
        "Adm-clerical",
        "Armed-Forces",
        "Craft-repair",
        "Exec-managerial",
        "Farming-fishing",
        "Handlers-cleaners",
        "Machine-op-inspct",
        "Other-service",
        "Priv-house-serv",
        "Prof-specialty",
        "Protective-serv",
        "Sales",
        "Tech-support",
        "Transport-moving",
    ),
    "relationship": ("Husband", "Not-in-family", "Other-relative", "Own-child", "Unmarried", "Wife"),
    "race": ("Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black", "Other", "White"),
    "sex": ("Female", "Male"),
    "native-country": (
        "?",
        "Cambodia",
        "Canada",
        "China",
        "Columbia",
        "Cuba",
        "Dominican-Republic",
        "Ecuador",
        "El-Salvador",
        "England",
        "France",
        "Germany",
        "Greece",
        "Guatemala",
        "Haiti",
        "Holand-Netherlands",
        "Honduras",
        "Hong",
        "Hungary",
        "India",
        "Iran",
        "Ireland",
        "Italy",
        "Jamaica",
        "Japan",
        "Laos",
        "Mexico",
        "Nicaragua",
        "Outlying-US(Guam-USVI-etc)",
        "Peru",
        "Philippines",
        "Poland",
        "Portugal",
        "Puerto-Rico",
        "Scotland",
        "South",
        "Taiwan",
        "Thailand",
        "Trinadad&Tobago",
        "United-States",
        "Vietnam",
        "Yugoslavia",
    ),
}
ADULT_COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
)
ADULT_WIDTH = len(ADULT_NUMERIC) + sum(len(values) for values in ADULT_CATEGORIES.values())  # 108
ADULT_CLASSES = ("<=50K", ">50K")


def read_adult_file(path: str | Path) -> pd.DataFrame:
    """One UCI file (``adult.data`` or ``adult.test``) as strings, one column per ADULT_COLUMNS entry.

    Values are separated by ", "; ``adult.test`` opens with a ``|1x3 Cross validator`` line
    and ends its labels with '.', which is dropped here.
    """
    fix = f"replace it with the UCI Adult file, or unset {DATA_DIR_ENV} to load {ADULT_HUB} from the Hugging Face Hub"
    with reading(path, ADULT_SOURCE):
        # "|" opens the test file's header line and appears in no value; "?" must stay a category, not NaN.
        frame = pd.read_csv(
            path,
            header=None,
            names=list(ADULT_COLUMNS),
            skipinitialspace=True,
            comment="|",
            dtype=str,
            keep_default_na=False,
            na_values=[""],
        )
    if frame.empty or frame.isna().any().any():
        raise UserError(f"{path} is not a UCI Adult file (15 values separated by ', ' a row): {fix}")
    frame["income"] = frame["income"].str.rstrip(".")
    return frame


def encode_adult(frame: pd.DataFrame, source: str, fix: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Features ``[N, 108]`` float32 and labels ``[N]`` int64 (1 = >50K) from rows with ADULT_COLUMNS.

    Numeric columns are standardised with the mean and standard deviation of every row
    given (all rows of the source, before the draw); categorical ones are one-hot over
    ADULT_CATEGORIES. ``source`` names the data in errors, ``fix`` says what to do about them.
    """
    fix = fix or f"replace {source} with the UCI Adult data"
    numeric = []
    for column in ADULT_NUMERIC:
        try:
            values = pd.to_numeric(frame[column].astype(str).str.strip(), errors="raise").to_numpy(np.float64)
        except ValueError:
            raise UserError(f"{source}: column {column} holds a value that is not a number; {fix}") from None
        spread = values.std()
        numeric.append((values - values.mean()) / (spread if spread > 0 else 1.0))
    blocks = [np.stack(numeric, axis=1)]
    for column, categories in ADULT_CATEGORIES.items():
        values = frame[column].astype(str).str.strip()
        codes = pd.Index(categories).get_indexer(values)  # -1 for a value outside the categories
        if (codes < 0).any():
            unknown = sorted(set(values[codes < 0]))[:3]
            raise UserError(f"{source}: column {column} holds unknown values {unknown}; {fix}")
        blocks.append(np.eye(len(categories))[codes])
    labels = frame["income"].astype(str).str.strip().str.rstrip(".")
    y = pd.Index(ADULT_CLASSES).get_indexer(labels).astype(np.int64)
    if (y < 0).any():
        raise UserError(f"{source}: an income label is neither '<=50K' nor '>50K'; {fix}")
    return np.concatenate(blocks, axis=1).astype(np.float32), y


def adult_hub_to_frame(split) -> pd.DataFrame:
    """A Hub split of ``scikit-learn/adult-census-income`` (dotted column names) with ADULT_COLUMNS."""
    frame = split.to_pandas().rename(columns=lambda name: name.replace(".", "-"))
    missing = [column for column in ADULT_COLUMNS if column not in frame.columns]
    if missing:
        raise UserError(
            f"{ADULT_HUB} on the Hugging Face Hub lacks the columns {missing}: set {DATA_DIR_ENV} (or --data-dir) "
            f"to a folder holding {' and '.join(ADULT_FILES)}"
        )
    return frame[list(ADULT_COLUMNS)]


def _read_adult_hub(revision: str | None) -> pd.DataFrame:
    splits = load_hub(ADULT_HUB, " and ".join(ADULT_FILES), revision=revision)
    return adult_hub_to_frame(splits["train"])


@tasks.register("adult")
@dataclass
class AdultTask(TabularTask):
    """UCI Adult: locally the union of adult.data and adult.test (ids count data rows, then test rows);
    from the Hub its one split (the 32,561 rows of adult.data), a different population and fingerprint."""

    metadata = TaskMetadata(
        name="adult",
        version="1.0",
        description="UCI Adult: predict whether income exceeds $50K a year from 14 census attributes "
        "(one-hot categories, standardised numbers; 108 features)",
        citation=("becker1996adult",),
        license="CC BY 4.0",
        source=f"hf:{ADULT_HUB}",
        revision=ADULT_REVISION,
        model_family="mlp-256-128",
        num_classes=2,
        default_models=16,
        class_names=ADULT_CLASSES,
        # the local copy's (adult.data + adult.test); the Hub's one split gives another population
        reported_utility="test accuracy 85.9% (NBTree, on the official split with unknown values removed) "
        "[kohavi1996nbtree]",
        pinned_data={"cpu": DataPin(20000, "80c63a53663cd676d6957e7854ed95f93ca60c1a1417de1d29496b93e37084f7")},
    )

    def read(self, data_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
        if data_dir is None:
            local = f"set {DATA_DIR_ENV} (or --data-dir) to a folder holding {' and '.join(ADULT_FILES)}"
            return encode_adult(_read_adult_hub(self.metadata.revision), f"{ADULT_HUB} on the Hugging Face Hub", local)
        how = f"load {ADULT_HUB} from the Hugging Face Hub"
        paths = [require_file(data_dir, relative, how) for relative in ADULT_FILES]
        frame = pd.concat([read_adult_file(path) for path in paths], ignore_index=True)
        return encode_adult(frame, " and ".join(str(path) for path in paths))

    def make_model(self) -> nn.Module:
        return mlp(ADULT_WIDTH, 2)


# --- Purchase-100 and Texas-100 (privacytrustlab tarballs) ---------------------

PURCHASE_URL = "https://github.com/privacytrustlab/datasets/raw/master/dataset_purchase.tgz"
PURCHASE_PATH = "purchase100/dataset_purchase.tgz"
PURCHASE_FEATURES = 600
TEXAS_URL = "https://github.com/privacytrustlab/datasets/raw/master/dataset_texas.tgz"
TEXAS_PATH = "texas100/dataset_texas.tgz"
TEXAS_FEATURES = 6169
NUM_CLASSES_100 = 100


def _binary_rows(raw: bytes, width: int) -> tuple[np.ndarray, list[bytes]] | None:
    """Fast path for lines ending in ``width`` comma-separated 0/1 digits: those digits ``[N, width]`` uint8
    and each line's leading text (with its trailing comma); None when any line is otherwise."""
    if not raw:
        return None
    buffer = np.frombuffer(raw if raw.endswith(b"\n") else raw + b"\n", dtype=np.uint8)
    ends = np.flatnonzero(buffer == ord("\n"))
    starts = np.concatenate([[0], ends[:-1] + 1])
    firsts = ends - (2 * width - 1)
    if (firsts < starts).any():
        return None
    digits = np.empty((len(ends), width), dtype=np.uint8)
    for row, (first, end) in enumerate(zip(firsts.tolist(), ends.tolist())):
        if not (buffer[first + 1 : end : 2] == ord(",")).all():
            return None
        digits[row] = buffer[first:end:2]
    np.subtract(digits, ord("0"), out=digits)  # in place: the Texas table is 415 MB; '/' and below wrap past 1
    if digits.max() > 1:
        return None
    return digits, [raw[start:first] for start, first in zip(starts.tolist(), firsts.tolist())]


def _read_int_table(raw: bytes, dtype) -> np.ndarray:
    """Any comma-separated integer table without header (the slow, general path); ValueError when it is not one."""
    return pd.read_csv(io.BytesIO(raw), header=None, dtype=dtype).to_numpy()


def _tar_members(path: Path, names: tuple[str, ...], url: str) -> list[bytes]:
    """The bytes of each file ``names`` (paths inside the tarball, a leading folder allowed)."""
    with reading(path, url), tarfile.open(path, "r:gz") as archive:
        files = {m.name.removeprefix("./"): m for m in archive.getmembers() if m.isfile()}
        contents = []
        for name in names:
            member = next((m for key, m in files.items() if key == name or key.endswith("/" + name)), None)
            if member is None:
                raise UserError(f"{path} holds no file '{name}': delete it and get it again from {url}")
            contents.append(archive.extractfile(member).read())
        return contents


def _check_labels(labels: np.ndarray, path: Path, what: str, url: str) -> np.ndarray:
    if not np.isin(labels, np.arange(1, NUM_CLASSES_100 + 1)).all():
        raise UserError(
            f"{path}: {what} holds a class outside 1..{NUM_CLASSES_100}; replace it with the tarball from {url}"
        )
    return labels.astype(np.int64) - 1


def read_purchase_tgz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[N, 600]`` uint8 and labels ``[N]`` int64 in 0..99 from the ``dataset_purchase`` CSV in the tarball.

    The CSV has no header: a class 1..100, then 600 binary features, a row.
    """
    path = Path(path)
    (raw,) = _tar_members(path, ("dataset_purchase",), PURCHASE_URL)
    wrong = UserError(
        f"{path}: 'dataset_purchase' is not a class (1..{NUM_CLASSES_100}) plus {PURCHASE_FEATURES} binary "
        f"features a row; replace it with the tarball from {PURCHASE_URL}"
    )
    fast = _binary_rows(raw, PURCHASE_FEATURES)
    try:
        if fast is not None:
            x, leading = fast
            # Each leading text is the class and its comma, perhaps quoted: b'"13",'.
            labels = np.array([int(text.rstrip(b",").strip(b'"')) for text in leading], dtype=np.int64)
        else:
            table = _read_int_table(raw, np.uint8)  # values above 255 are a ValueError
            if table.shape[1] != PURCHASE_FEATURES + 1 or not np.isin(table[:, 1:], (0, 1)).all():
                raise wrong
            x, labels = table[:, 1:].astype(np.uint8), table[:, 0]
    except ValueError:
        raise wrong from None
    return x, _check_labels(labels, path, "'dataset_purchase'", PURCHASE_URL)


def read_texas_tgz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[N, 6169]`` uint8 and labels ``[N]`` int64 in 0..99 from ``texas/100/feats`` and ``texas/100/labels``.

    ``feats`` holds 6,169 comma-separated binary features a row, ``labels`` one class 1..100 a line; no headers.
    """
    path = Path(path)
    feats, labels_raw = _tar_members(path, ("texas/100/feats", "texas/100/labels"), TEXAS_URL)
    wrong = UserError(
        f"{path}: 'texas/100/feats' is not {TEXAS_FEATURES} binary features a row, with one class "
        f"(1..{NUM_CLASSES_100}) a line in 'texas/100/labels'; replace it with the tarball from {TEXAS_URL}"
    )
    fast = _binary_rows(feats, TEXAS_FEATURES)  # the general parser needs about a minute for the 67,330 rows
    try:
        if fast is not None and not any(fast[1]):
            x = fast[0]
        else:
            table = _read_int_table(feats, np.uint8)
            if table.shape[1] != TEXAS_FEATURES or not np.isin(table, (0, 1)).all():
                raise wrong
            x = table.astype(np.uint8)
        labels = _read_int_table(labels_raw, np.int64)
    except ValueError:
        raise wrong from None
    if labels.shape != (len(x), 1):
        raise wrong
    return x, _check_labels(labels[:, 0], path, "'texas/100/labels'", TEXAS_URL)


@dataclass(frozen=True)
class TarballData:
    """One privacytrustlab dataset: where its tarball is, how to read it, and what the task says of it."""

    name: str  # the registered task
    url: str  # the public source
    path: str  # the tarball in the data folder
    read: Callable[[Path], tuple[np.ndarray, np.ndarray]]
    features: int
    description: str


PRIVACYTRUSTLAB = (
    TarballData(
        "purchase100", PURCHASE_URL, PURCHASE_PATH, read_purchase_tgz, PURCHASE_FEATURES,
        "Purchase-100: predict one of 100 shopper clusters from 600 binary purchase features "
        "(Kaggle Acquire Valued Shoppers Challenge)",
    ),
    TarballData(
        "texas100", TEXAS_URL, TEXAS_PATH, read_texas_tgz, TEXAS_FEATURES,
        "Texas-100: predict one of the 100 most frequent procedures from 6,169 binary features "
        "of a hospital discharge record (Texas Department of State Health Services)",
    ),
)  # fmt: skip


@dataclass
class TarballTask(TabularTask):
    """A privacytrustlab dataset (Shokri et al., 2017): downloaded from its url, or its path in the data folder.

    Its MLP is features-256-128-100 rather than the usual features-1024-512-256-128-100, so the K
    stacked models train on the CPU in minutes.
    """

    data: ClassVar[TarballData]

    def read(self, data_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
        if data_dir is None:
            path = download(self.data.url, Path(self.data.path).name, local_copy=self.data.path)
        else:
            path = require_file(data_dir, self.data.path, f"download it from {self.data.url}")
        return self.data.read(path)

    def make_model(self) -> nn.Module:
        return mlp(self.data.features, NUM_CLASSES_100)


def tarball_task(data: TarballData) -> type[TarballTask]:
    """The task of one privacytrustlab dataset, registered under its name."""
    metadata = TaskMetadata(
        name=data.name, version="1.0", description=data.description, citation=("shokri2017membership",),
        license="none stated", source=data.url, model_family="mlp-256-128", num_classes=NUM_CLASSES_100,
        default_models=16,
    )  # fmt: skip
    class_name = f"{data.name.capitalize()}Task"
    namespace = {"data": data, "metadata": metadata, "__module__": __name__, "__qualname__": class_name}
    return tasks.register(data.name)(dataclass(type(class_name, (TarballTask,), namespace)))


Purchase100Task, Texas100Task = (tarball_task(data) for data in PRIVACYTRUSTLAB)
