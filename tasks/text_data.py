"""Raw text of the safety-classifier tasks: eight datasets (ESConv read two ways), each into one deduplicated pool.

Each dataset is one :class:`TextDataset` record in :data:`DATASETS`: how to read its local copy (the
layout of the shared data folder, e.g. ``goemotions/train.tsv``) and its public copy on the Hugging Face
Hub (a ``*_from_hub`` function turns a Hub ``DatasetDict`` into the columns of the local files, so two
copies that agree give the same examples), how to turn those rows into a pool, its class names, and what
its task says of it. :meth:`TextDataset.load` checks the pool's classes against the declared ones.

Every dataset concatenates the dataset's official splits in order (train, dev/validation, test) into one
pool, because the task draws its own population and test set, and then removes exact duplicate texts
(:func:`dedup_texts`): a text on both sides of the membership split would corrupt membership labels.
``ids`` are row (or record) indices into that concatenation, so they are stable across runs.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from miabench.api import DataPin, Recipe
from miabench.data import DATA_DIR_ENV, load_hub, reading, require_file
from miabench.errors import UserError


@dataclass
class TextData:
    """One dataset's pool of examples, deduplicated, texts stripped."""

    texts: list[str]
    labels: np.ndarray  # int64 [N], indices into class_names
    ids: np.ndarray  # int64 [N]: row or record index in the concatenated official splits
    severe: np.ndarray | None = None  # bool [N], only for support: initial emotion intensity >= 4
    class_names: tuple[str, ...] = ()  # where the data names its classes (support); else the dataset's declared ones

    def __post_init__(self) -> None:
        n = len(self.texts)
        if len(self.labels) != n or len(self.ids) != n or (self.severe is not None and len(self.severe) != n):
            raise ValueError("TextData: texts, labels, ids and severe must have the same length")

    def __len__(self) -> int:
        return len(self.texts)


# ---------------------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------------------


def dedup_texts(texts: Sequence[str], labels: Sequence | np.ndarray) -> np.ndarray:
    """Sorted indices of the examples to keep after removing exact duplicate texts.

    Texts are compared after ``str.strip()``. Of a set of copies the first is kept when all copies carry
    the same label; when they disagree every copy is dropped (the text's label is ambiguous). Empty texts
    are dropped too.
    """
    if len(texts) != len(labels):
        raise ValueError(f"dedup_texts: {len(texts)} texts but {len(labels)} labels")
    stripped = pd.Series([str(text).strip() for text in texts], dtype=object)
    label_series = pd.Series(np.asarray(labels))
    agree = label_series.groupby(stripped.to_numpy()).transform("nunique").to_numpy() == 1
    first = ~stripped.duplicated(keep="first").to_numpy()
    keep = first & agree & (stripped != "").to_numpy()
    return np.flatnonzero(keep)


def _finish(texts: Sequence[str], labels: np.ndarray, ids: np.ndarray) -> TextData:
    """Strip and deduplicate a pool whose labels index into the dataset's declared classes."""
    texts = [str(text).strip() for text in texts]
    labels = np.asarray(labels, dtype=np.int64)
    keep = dedup_texts(texts, labels)
    return TextData(texts=[texts[i] for i in keep], labels=labels[keep], ids=np.asarray(ids, dtype=np.int64)[keep])


def _require_all(data_dir: Path, relatives: Iterable[str], how_to_get: str) -> list[Path]:
    """Every file, or a UserError naming the first one missing."""
    return [require_file(data_dir, relative, how_to_get) for relative in relatives]


def _read_csv(path: Path, source: str, **options) -> pd.DataFrame:
    """``pd.read_csv(path, **options)``; a damaged file is a one-line UserError pointing at ``source``."""
    with reading(path, source):
        return pd.read_csv(path, **options)


_SPLIT_ORDER = ("train", "validation", "valid", "dev", "test")


def _hub_splits(splits) -> list:
    """The splits of a Hub ``DatasetDict`` in the official order (train, validation, test, then any
    others by name); a lone ``Dataset`` as a one-element list."""
    if not hasattr(splits, "keys"):
        return [splits]
    rank = {name: i for i, name in enumerate(_SPLIT_ORDER)}
    return [splits[name] for name in sorted(splits.keys(), key=lambda name: (rank.get(name, len(rank)), name))]


def _hub_frame(splits, columns: Sequence[str], hub_id: str) -> pd.DataFrame:
    """The named columns of every split, concatenated in the official order."""
    frames = []
    for split in _hub_splits(splits):
        missing = [column for column in columns if column not in split.column_names]
        if missing:
            raise UserError(
                f"{hub_id} on the Hub has no column {missing[0]!r} (it has {', '.join(split.column_names)}): "
                f"set {DATA_DIR_ENV} (or --data-dir) to a folder holding a local copy"
            )
        frames.append(pd.DataFrame({column: list(split[column]) for column in columns}))
    if not frames:
        return pd.DataFrame({column: [] for column in columns})
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------------------
# distress: GoEmotions
# ---------------------------------------------------------------------------------------------------------

GOEMOTIONS_HUB = "google-research-datasets/go_emotions"
GOEMOTIONS_CONFIG = "simplified"
GOEMOTIONS_REVISION = "add492243ff905527e67aeb8b80c082af02207c3"
GOEMOTIONS_FILES = ("goemotions/train.tsv", "goemotions/dev.tsv", "goemotions/test.tsv")
# GoEmotions label ids (emotions.txt): disappointment, fear, grief, nervousness, remorse, sadness.
DISTRESS_EMOTIONS = frozenset({9, 14, 16, 19, 24, 25})


def read_goemotions(data_dir: Path) -> pd.DataFrame:
    """Columns ``text``, ``labels`` (list of emotion ids), ``id`` from the three TSV files, in order."""
    paths = _require_all(data_dir, GOEMOTIONS_FILES, f"load {GOEMOTIONS_HUB} from the Hugging Face Hub")
    frames = []
    for path in paths:
        # No header. Texts holding quotes are CSV-quoted ("" for "): the default quoting undoes that.
        source = f"huggingface.co/datasets/{GOEMOTIONS_HUB}"
        frame = _read_csv(
            path, source, sep="\t", header=None, names=["text", "labels", "id"], dtype=str, keep_default_na=False
        )
        with reading(path, source):
            frame["labels"] = [[int(label) for label in labels.split(",")] for labels in frame["labels"]]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def goemotions_from_hub(splits) -> pd.DataFrame:
    """The columns of :func:`read_goemotions` from the Hub's ``simplified`` config (text, labels, id)."""
    frame = _hub_frame(splits, ("text", "labels", "id"), GOEMOTIONS_HUB)
    frame["labels"] = [[int(label) for label in labels] for labels in frame["labels"]]
    return frame


def distress_from_frame(frame: pd.DataFrame) -> TextData:
    """1 when any of the six distress emotions is annotated."""
    labels = np.array([bool(DISTRESS_EMOTIONS.intersection(labels)) for labels in frame["labels"]], dtype=np.int64)
    return _finish(frame["text"].tolist(), labels, np.arange(len(frame)))


# ---------------------------------------------------------------------------------------------------------
# stress: Dreaddit
# ---------------------------------------------------------------------------------------------------------

DREADDIT_HUB = "andreagasparini/dreaddit"  # Parquet on main: text, label, post_id, subreddit; train and test
DREADDIT_FILES = ("dreaddit/dreaddit-train.csv", "dreaddit/dreaddit-test.csv")
# A spreadsheet round trip replaced some segments with Excel's formula error: their text is lost.
_LOST_TEXTS = frozenset({"", "#NAME?"})
# Two posts sharing a sentence this long are copies of one post; shorter ones ("I don't know what to do.")
# recur by chance.
MIN_SHARED_SENTENCE = 40
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def read_dreaddit(data_dir: Path) -> pd.DataFrame:
    """Columns ``text``, ``label``, ``post_id`` (one row per annotated segment) from both CSV files, in order."""
    paths = _require_all(data_dir, DREADDIT_FILES, f"load {DREADDIT_HUB} from the Hugging Face Hub")
    source, columns = f"huggingface.co/datasets/{DREADDIT_HUB}", ["text", "label", "post_id"]
    options = {"usecols": columns, "dtype": {"text": str, "post_id": str}, "keep_default_na": False}
    frames = [_read_csv(path, source, **options) for path in paths]
    return pd.concat(frames, ignore_index=True)[columns]


def dreaddit_from_hub(splits) -> pd.DataFrame:
    """The columns of :func:`read_dreaddit` from a Hub copy that has them (and perhaps others, e.g. subreddit)."""
    return _hub_frame(splits, ("text", "label", "post_id"), DREADDIT_HUB)


def _post_groups(post_ids: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    """For every segment, a representative post id of its group.

    Posts that share a segment text, or a sentence of at least ``MIN_SHARED_SENTENCE`` characters, are one
    group, transitively: the same post cross-posted to two subreddits (or one survey advert posted many
    times), whose annotated segments need not line up.
    """
    parent = {post: post for post in post_ids}

    def find(post: str) -> str:
        while parent[post] != post:
            parent[post] = parent[parent[post]]
            post = parent[post]
        return post

    first_post: dict[str, str] = {}  # key (segment or long sentence) -> the first post holding it
    for post, text in zip(post_ids, texts):
        sentences = (sentence.strip() for sentence in _SENTENCE_END.split(text))
        keys = {text} | {sentence for sentence in sentences if len(sentence) >= MIN_SHARED_SENTENCE}
        for key in keys:
            other = first_post.setdefault(key, post)
            root, other_root = find(post), find(other)
            if root != other_root:
                parent[max(root, other_root)] = min(root, other_root)
    return np.array([find(post) for post in post_ids], dtype=object)


def stress_from_frame(frame: pd.DataFrame) -> TextData:
    """One example per post: its segments' texts joined with a space in file order.

    Dreaddit annotates 5-sentence segments; several segments may come from one post and share its
    ``post_id``. Making one example a post keeps a post from being on both sides of the membership split.
    Segments whose text was lost (``#NAME?``) are dropped. Cross-posted posts (see :func:`_post_groups`) are
    deduplicated like :func:`dedup_texts` does texts: a group's first post is kept when every segment of the
    group carries one label, else the whole group is dropped. So a post whose own segments disagree on the
    label is dropped too. ``ids`` is the post's first row.
    """
    segments = pd.DataFrame(
        {
            "text": [str(text).strip() for text in frame["text"]],
            "label": np.asarray(frame["label"], dtype=np.int64),
            "post_id": [str(post) for post in frame["post_id"]],
            "row": np.arange(len(frame)),
        }
    )
    segments = segments[~segments["text"].isin(_LOST_TEXTS)]
    segments["group"] = _post_groups(segments["post_id"].tolist(), segments["text"].tolist())
    agree = segments.groupby("group")["label"].transform("nunique") == 1
    segments = segments[agree]
    # Rows are in file order, so a group's first post id is the one with the earliest row.
    segments = segments[segments["post_id"] == segments.groupby("group")["post_id"].transform("first")]
    posts = segments.groupby("post_id", sort=False).agg(
        text=("text", " ".join), label=("label", "first"), row=("row", "min")
    )
    posts = posts.sort_values("row", kind="stable")
    return _finish(posts["text"].tolist(), posts["label"].to_numpy(), posts["row"].to_numpy())


# ---------------------------------------------------------------------------------------------------------
# selfharm: SDCNL
# ---------------------------------------------------------------------------------------------------------

SDCNL_URL = "https://github.com/ayaanzhaque/SDCNL"
SDCNL_FILES = ("sdcnl/training-set.csv", "sdcnl/testing-set.csv")
# The authors' scrape writes this placeholder for a post with a title only.
_SDCNL_EMPTY = "emptypost"


def read_sdcnl(data_dir: Path) -> pd.DataFrame:
    """Columns ``title``, ``selftext``, ``is_suicide`` from both CSV files, in order."""
    paths = _require_all(data_dir, SDCNL_FILES, f"use the CSV files of {SDCNL_URL} (data/), the only public source")
    frames = [
        _read_csv(
            path,
            SDCNL_URL,
            usecols=["title", "selftext", "is_suicide"],
            dtype={"title": str, "selftext": str},
            keep_default_na=False,
        )
        for path in paths
    ]
    return pd.concat(frames, ignore_index=True)[["title", "selftext", "is_suicide"]]


def _text_or_empty(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def selfharm_from_frame(frame: pd.DataFrame) -> TextData:
    """title + newline + selftext; a missing or ``emptypost`` selftext leaves the title alone."""
    texts = []
    for title, selftext in zip(frame["title"], frame["selftext"]):
        body = _text_or_empty(selftext).strip()
        body = "" if body == _SDCNL_EMPTY else body
        texts.append(f"{_text_or_empty(title).strip()}\n{body}")
    labels = np.asarray(frame["is_suicide"], dtype=np.int64)
    return _finish(texts, labels, np.arange(len(frame)))


# ---------------------------------------------------------------------------------------------------------
# depression: Depression: Reddit Dataset (Cleaned)
# ---------------------------------------------------------------------------------------------------------

DEPRESSION_URL = "https://www.kaggle.com/datasets/infamouscoder/depression-reddit-cleaned"
# A re-upload of the Kaggle CSV (one split, train). Unpinned: no commit of it could be verified offline.
DEPRESSION_HUB = "hugginglearners/reddit-depression-cleaned"
DEPRESSION_FILE = "depression-reddit/depression_dataset_reddit_cleaned.csv"
DEPRESSION_COLUMNS = ("text", "is_depressive")
# The Kaggle release names its columns clean_text and is_depression; the shared copy text and is_depressive.
_DEPRESSION_RENAMES = {"clean_text": "text", "is_depression": "is_depressive"}


def _depression_columns(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Columns ``text``, ``is_depressive`` under either naming, or a one-line UserError naming the one missing."""
    frame = frame.rename(columns={old: new for old, new in _DEPRESSION_RENAMES.items() if old in frame.columns})
    missing = [column for column in DEPRESSION_COLUMNS if column not in frame.columns]
    if missing:
        raise UserError(
            f"{where} has no column {missing[0]!r} (it has {', '.join(map(str, frame.columns))}): "
            f"replace it with the CSV of {DEPRESSION_URL}"
        )
    return frame[list(DEPRESSION_COLUMNS)].reset_index(drop=True)


def read_depression(data_dir: Path) -> pd.DataFrame:
    """Columns ``text``, ``is_depressive`` (0/1) from ``depression_dataset_reddit_cleaned.csv``, in file order."""
    how_to_get = f"load {DEPRESSION_HUB} from the Hugging Face Hub (the CSV of {DEPRESSION_URL})"
    path = require_file(data_dir, DEPRESSION_FILE, how_to_get)
    frame = _depression_columns(_read_csv(path, DEPRESSION_URL, dtype=str, keep_default_na=False), str(path))
    with reading(path, DEPRESSION_URL):  # a label that is not an integer: the file is damaged
        frame["is_depressive"] = frame["is_depressive"].str.strip().astype(np.int64)
    return frame


def depression_from_hub(splits) -> pd.DataFrame:
    """The columns of :func:`read_depression` from the Hub copy (either column naming), splits in order."""
    frames = []
    for split in _hub_splits(splits):
        frame = pd.DataFrame({column: list(split[column]) for column in split.column_names})
        frames.append(_depression_columns(frame, DEPRESSION_HUB))
    if not frames:
        return pd.DataFrame({column: [] for column in DEPRESSION_COLUMNS})
    frame = pd.concat(frames, ignore_index=True)
    frame["is_depressive"] = np.asarray(frame["is_depressive"], dtype=np.int64)
    return frame


def depression_from_frame(frame: pd.DataFrame) -> TextData:
    """The posts as released (lower-cased, lemmatised, punctuation removed); 1 = depressive."""
    return _finish(frame["text"].tolist(), np.asarray(frame["is_depressive"], dtype=np.int64), np.arange(len(frame)))


# ---------------------------------------------------------------------------------------------------------
# support: ESConv
# ---------------------------------------------------------------------------------------------------------

ESCONV_HUB = "thu-coai/esconv"
ESCONV_FILES = ("esconv/esconv_train.json", "esconv/esconv_valid.json", "esconv/esconv_test.json")
OTHER_EMOTION = "other"
MIN_EMOTION_SHARE = 0.05  # emotion types on fewer conversations than this share merge into "other"
SEVERE_INTENSITY = 4  # initial emotion intensity (1-5) at or above which a seeker counts as severe


def read_esconv(data_dir: Path) -> list[dict]:
    """The conversations of the three JSON-lines files, in order."""
    paths = _require_all(data_dir, ESCONV_FILES, f"load {ESCONV_HUB} from the Hugging Face Hub")
    records = []
    for path in paths:
        with reading(path, f"huggingface.co/datasets/{ESCONV_HUB}"), open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise UserError(
                        f"{path} line {number} is not JSON ({error.msg}): replace the file with the ESConv release"
                    ) from None
    return records


def esconv_from_hub(splits) -> list[dict]:
    """The conversations of the Hub copy, in order. It stores each as a JSON string in column ``text``."""
    records = []
    for split in _hub_splits(splits):
        if "text" in split.column_names:
            records.extend(json.loads(text) for text in split["text"])
        else:  # a copy with the fields as columns
            records.extend(split.to_list())
    return records


def _intensity(record: dict, index: int) -> int:
    value = ((record.get("survey_score") or {}).get("seeker") or {}).get("initial_emotion_intensity")
    try:
        number = float(str(value).strip())  # a string ("4") in the release
    except ValueError:
        number = float("nan")
    intensity = int(number) if number.is_integer() else -1
    if not 1 <= intensity <= 5:
        raise UserError(
            f"ESConv conversation {index} has initial_emotion_intensity {value!r}, not 1..5: "
            f"replace the data with the ESConv release"
        )
    return intensity


def support_from_records(records: Sequence[dict]) -> TextData:
    """One example per conversation: the seeker's (``usr``) turns joined with newlines.

    The label is the conversation's ``emotion_type``; types on fewer than 5% of the (deduplicated)
    conversations merge into ``other``. ``severe`` marks an initial emotion intensity of 4 or 5.
    """
    texts, emotions, severe = [], [], []
    for index, record in enumerate(records):
        turns = (str(turn.get("text", "")).strip() for turn in record.get("dialog", []) if turn.get("speaker") == "usr")
        texts.append("\n".join(turn for turn in turns if turn))
        emotions.append(str(record.get("emotion_type", "")).strip())
        severe.append(_intensity(record, index) >= SEVERE_INTENSITY)

    keep = dedup_texts(texts, emotions)  # on the fine emotion types: merging must not hide a disagreement
    emotions = [emotions[i] for i in keep]
    counts = Counter(emotions)
    kept_types = sorted(emotion for emotion, count in counts.items() if count >= MIN_EMOTION_SHARE * len(emotions))
    class_names = tuple(kept_types) + ((OTHER_EMOTION,) if len(kept_types) < len(counts) else ())
    index_of = {name: i for i, name in enumerate(class_names)}
    labels = np.array([index_of.get(emotion, index_of.get(OTHER_EMOTION)) for emotion in emotions], dtype=np.int64)
    return TextData(
        texts=[texts[i] for i in keep],
        labels=labels,
        ids=keep.astype(np.int64),
        severe=np.asarray(severe, dtype=bool)[keep],
        class_names=class_names,
    )


SPEAKER_TAGS = {"usr": "Seeker", "sys": "Supporter"}  # ESConv's speakers, as the dialogue text names them


def dialogue_text(record: dict, index: int) -> str:
    """The whole dialogue in order, one line per turn: ``Seeker: ...`` / ``Supporter: ...``.

    A turn is a speaker's consecutive utterances, joined with a space; empty utterances are skipped.
    """
    turns: list[tuple[str, list[str]]] = []
    for utterance in record.get("dialog", []):
        text, speaker = str(utterance.get("text", "")).strip(), utterance.get("speaker")
        if speaker not in SPEAKER_TAGS:
            raise UserError(
                f"ESConv conversation {index} has a turn by speaker {speaker!r}, not usr or sys: "
                f"replace the data with the ESConv release"
            )
        if not text:
            continue
        if turns and turns[-1][0] == speaker:
            turns[-1][1].append(text)
        else:
            turns.append((speaker, [text]))
    return "\n".join(f"{SPEAKER_TAGS[speaker]}: {' '.join(texts)}" for speaker, texts in turns)


def support_dialogue_from_records(records: Sequence[dict]) -> TextData:
    """One example per conversation, the whole dialogue (:func:`dialogue_text`); 1 = severe.

    Severe is the seeker's initial emotion intensity (the pre-chat survey, 1-5) of at least 4, the same
    definition as the ``severe`` subgroup of ``support``. Exact duplicate dialogues are removed like texts.
    """
    texts = [dialogue_text(record, index) for index, record in enumerate(records)]
    labels = np.array([_intensity(record, index) >= SEVERE_INTENSITY for index, record in enumerate(records)])
    return _finish(texts, labels.astype(np.int64), np.arange(len(records)))


# ---------------------------------------------------------------------------------------------------------
# toxicity and hate: TweetEval (OLID, HatEval)
# ---------------------------------------------------------------------------------------------------------

TWEETEVAL_HUB = "cardiffnlp/tweet_eval"
TWEETEVAL_REVISION = "b3a375baf0f409c77e6bc7aa35102b7b3534f8be"
TWEETEVAL_SPLITS = ("train", "val", "test")


def _read_lines(path: Path) -> list[str]:
    # Split on "\n" only: str.splitlines would also split on characters some tweets hold (U+2028, U+0085).
    lines = path.read_text(encoding="utf-8").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def read_tweeteval(data_dir: Path, task: str) -> pd.DataFrame:
    """Columns ``text``, ``label`` from ``tweeteval/<task>/{train,val,test}_{text,labels}.txt``, in order."""
    relatives = [f"tweeteval/{task}/{split}_{kind}.txt" for split in TWEETEVAL_SPLITS for kind in ("text", "labels")]
    paths = _require_all(data_dir, relatives, f"load {TWEETEVAL_HUB} (config {task}) from the Hugging Face Hub")
    texts, labels = [], []
    for text_path, label_path in zip(paths[::2], paths[1::2]):
        source = f"huggingface.co/datasets/{TWEETEVAL_HUB}"
        with reading(text_path, source):
            split_texts = _read_lines(text_path)
        with reading(label_path, source):
            split_labels = [int(label) for label in _read_lines(label_path)]
        if len(split_texts) != len(split_labels):
            raise UserError(
                f"{text_path} has {len(split_texts)} lines but {label_path} has {len(split_labels)}: "
                f"replace both with the TweetEval release"
            )
        texts += split_texts
        labels += split_labels
    return pd.DataFrame({"text": texts, "label": np.asarray(labels, dtype=np.int64)})


def tweeteval_from_hub(splits) -> pd.DataFrame:
    """The columns of :func:`read_tweeteval` from a Hub config of ``cardiffnlp/tweet_eval``."""
    return _hub_frame(splits, ("text", "label"), TWEETEVAL_HUB)


def tweeteval_from_frame(frame: pd.DataFrame) -> TextData:
    """TweetEval's labels as they are (offensive: 1 = offensive; hate: 1 = hateful)."""
    return _finish(frame["text"].tolist(), frame["label"].to_numpy(), np.arange(len(frame)))


# ---------------------------------------------------------------------------------------------------------
# toxicity-davidson: Davidson et al.
# ---------------------------------------------------------------------------------------------------------

DAVIDSON_HUB = "tdavidson/hate_speech_offensive"
DAVIDSON_REVISION = "adc5fb774614827695774f2dbe0ea8122f6a92b4"  # "Convert dataset to Parquet (#2)"
DAVIDSON_FILE = "davidson/labeled_data.csv"


def read_davidson(data_dir: Path) -> pd.DataFrame:
    """Columns ``tweet``, ``class`` from ``labeled_data.csv``."""
    path = require_file(data_dir, DAVIDSON_FILE, f"load {DAVIDSON_HUB} from the Hugging Face Hub")
    source = f"huggingface.co/datasets/{DAVIDSON_HUB}"
    return _read_csv(path, source, usecols=["tweet", "class"], dtype={"tweet": str}, keep_default_na=False)[
        ["tweet", "class"]
    ]


def davidson_from_hub(splits) -> pd.DataFrame:
    """The columns of :func:`read_davidson` from the Hub copy (one split, ``train``)."""
    return _hub_frame(splits, ("tweet", "class"), DAVIDSON_HUB)


def davidson_from_frame(frame: pd.DataFrame) -> TextData:
    """Davidson et al. tweets, raw (HTML entities such as ``&amp;`` kept)."""
    return _finish(frame["tweet"].tolist(), frame["class"].to_numpy(), np.arange(len(frame)))


# ---------------------------------------------------------------------------------------------------------
# The datasets
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HubCopy:
    """A dataset's public copy on the Hugging Face Hub."""

    id: str
    revision: str | None  # the pinned commit (None: unpinned, with a comment saying why)
    rows: Callable[[Any], Any]  # a Hub DatasetDict -> the rows the local reader gives
    config: str | None = None


@dataclass(frozen=True)
class TextDataset:
    """One text dataset: where it is, how it becomes a pool, its classes, and what its task says of it."""

    name: str  # the registered task
    description: str
    class_names: tuple[str, ...]  # the one declaration; checked against every pool loaded
    flagged_class: int | None  # the class a safety classifier flags
    license: str
    citation: tuple[str, ...]  # keys of miabench.citations
    local_files: str  # what a data folder holds, for messages
    read_local: Callable[[Path], Any]  # a data folder -> rows
    pool: Callable[[Any], TextData]  # rows -> the deduplicated pool
    hub: HubCopy | None  # None: no public copy on the Hub
    url: str = ""  # the public source when there is no Hub copy
    highlighted: tuple[str, ...] = ()  # subgroups reported beside the overall numbers (flagged is added)
    test_size: int = 1000  # the task's default
    pinned_data: dict[str, DataPin] = dataclasses.field(default_factory=dict, hash=False)  # the task's, per track
    version: str = "1.0"  # the task's
    # The recipe per model family chosen by the tuning protocol (miabench.tuning, docs/recipes.md);
    # a version with tuned recipes has a validation split. A family not listed keeps its default.
    recipes: dict[str, Recipe] = dataclasses.field(default_factory=dict, hash=False)
    reported_utility: str = ""  # the task's (TaskMetadata.reported_utility)

    @property
    def source(self) -> str:
        if self.hub is None:
            return self.url
        return f"hf:{self.hub.id}" + (f" (config {self.hub.config})" if self.hub.config else "")

    def load(self, data_dir: Path | None) -> TextData:
        """The pool from the local copy under ``data_dir``, or from the Hub copy when it is None."""
        if data_dir is not None:
            rows = self.read_local(data_dir)
        elif self.hub is None:
            raise UserError(
                f"task '{self.name}' has no copy on the Hugging Face Hub: set {DATA_DIR_ENV} (or --data-dir) "
                f"to a folder holding {self.local_files} (from {self.url})"
            )
        else:
            rows = self.hub.rows(load_hub(self.hub.id, self.local_files, self.hub.config, self.hub.revision))
        return self.check(self.pool(rows))

    def check(self, data: TextData) -> TextData:
        """``data`` with the declared class names, or a one-line UserError when its classes are not those."""
        fix = f"replace the data with the release of {self.source}"
        if data.class_names and data.class_names != self.class_names:
            raise UserError(
                f"task '{self.name}': the data's classes ({', '.join(data.class_names)}) are not the declared "
                f"({', '.join(self.class_names)}); {fix}"
            )
        outside = data.labels[(data.labels < 0) | (data.labels >= len(self.class_names))]
        if len(outside):
            raise UserError(
                f"task '{self.name}': the data holds label {outside[0]}, outside its "
                f"{len(self.class_names)} classes 0..{len(self.class_names) - 1}; {fix}"
            )
        return dataclasses.replace(data, class_names=self.class_names)


_TWEETEVAL_LICENSE = "TweetEval: no restrictions stated; the original task's terms and the Twitter terms apply"

DATASETS = {
    dataset.name: dataset
    for dataset in (
        TextDataset(
            name="distress",
            reported_utility=(
                "none for this binary regrouping; the dataset paper reports F1 0.46 averaged over its 28 emotions (BERT-base, official test split) [demszky2020goemotions]"
            ),
            description="GoEmotions comments: any of disappointment, fear, grief, nervousness, remorse, sadness",
            class_names=("no-distress", "distress"),
            flagged_class=1,
            license="Apache-2.0",
            citation=("demszky2020goemotions",),
            local_files="goemotions/{train,dev,test}.tsv",
            read_local=read_goemotions,
            pool=distress_from_frame,
            hub=HubCopy(GOEMOTIONS_HUB, GOEMOTIONS_REVISION, goemotions_from_hub, GOEMOTIONS_CONFIG),
            test_size=2000,  # half of it the validation split: about 170 flagged examples each
            pinned_data={"cpu": DataPin(8000, "756dcaaf18d66019bfca6f49014694646a9150c9a0d12ae3abb5e2eebd45b5e4")},
            version="2.0",  # tuned recipes (docs/recipes.md), a validation split, 2,000 held out
            recipes={
                "minilm-head": Recipe(epochs=10, batch_size=128, lr=3e-4, weight_decay=1e-3, balanced_batches=True),
                "ngram-mlp": Recipe(epochs=5, batch_size=128, lr=3e-4, weight_decay=1e-3, balanced_batches=True),
            },
        ),
        TextDataset(
            name="stress",
            description="Dreaddit Reddit posts (one example per post): stress",
            class_names=("no-stress", "stress"),
            flagged_class=1,
            license="none stated (research release; Reddit content)",
            citation=("turcan2019dreaddit",),
            local_files="dreaddit/dreaddit-{train,test}.csv",
            read_local=read_dreaddit,
            pool=stress_from_frame,
            # Unpinned: no commit of the Hub copy could be verified offline.
            hub=HubCopy(DREADDIT_HUB, None, dreaddit_from_hub),
            test_size=600,  # of about 3k posts; half of it the validation split
            pinned_data={"cpu": DataPin(2118, "2fd02a90d8e3ac7f2ff50efa2aeb4c20e30508039b764b5d95666f9028caca70")},
            version="2.0",  # tuned recipes (docs/recipes.md) and a validation split
            recipes={
                "minilm-head": Recipe(epochs=30, batch_size=128, lr=3e-4),
                "ngram-mlp": Recipe(epochs=20, batch_size=128, lr=3e-4, weight_decay=1e-4, balanced_batches=True),
            },
        ),
        TextDataset(
            name="selfharm",
            reported_utility=(
                "accuracy 93.1%, F1 95.4 (GUSE embeddings + dense head, on labels the paper first corrects with UMAP-GMM, so not comparable) [haque2021sdcnl]"
            ),
            description="SDCNL Reddit posts: r/SuicideWatch versus r/depression",
            class_names=("depression", "suicide-watch"),
            flagged_class=1,
            license="none stated",
            citation=("haque2021sdcnl",),
            local_files="sdcnl/training-set.csv and sdcnl/testing-set.csv",
            read_local=read_sdcnl,
            pool=selfharm_from_frame,
            hub=None,
            url=SDCNL_URL,
            test_size=400,  # of 1.9k posts; half of it the validation split
            pinned_data={"cpu": DataPin(1488, "48e1da0bf7f6a874de05e9069a021bed8996359100c090a09110224972eabfcf")},
            version="2.0",  # tuned recipes (docs/recipes.md) and a validation split
            recipes={
                "minilm-head": Recipe(epochs=30, batch_size=128, lr=3e-4, balanced_batches=True),
                "ngram-mlp": Recipe(epochs=20, batch_size=128, lr=3e-4, weight_decay=1e-3),
            },
        ),
        TextDataset(
            name="support",
            description="ESConv support seekers (one example per conversation): emotion type; subgroup severe",
            # The emotion types on at least MIN_EMOTION_SHARE of the conversations, sorted, then the rest merged.
            class_names=("anger", "anxiety", "depression", "fear", "sadness", OTHER_EMOTION),
            flagged_class=None,
            license="CC BY-NC 4.0",
            citation=("liu2021towards",),
            local_files="esconv/esconv_{train,valid,test}.json",
            read_local=read_esconv,
            pool=support_from_records,
            # Unpinned: no commit of the Hub copy could be verified offline.
            hub=HubCopy(ESCONV_HUB, None, esconv_from_hub),
            highlighted=("severe",),
            test_size=260,  # of 1.3k conversations
            pinned_data={"cpu": DataPin(1040, "2885bf6e7873abf59d8c0af13bb3dc381d7dde31705a7beca6d5ed0d22fcd20a")},
        ),
        TextDataset(
            name="toxicity",
            reported_utility="macro-F1 79.5 (RoBERTa-base, TweetEval offensive test split) [barbieri2020tweeteval]",
            description="OLID tweets (TweetEval): offensive",
            class_names=("not-offensive", "offensive"),
            flagged_class=1,
            license=_TWEETEVAL_LICENSE,
            citation=("zampieri2019predicting", "barbieri2020tweeteval"),
            local_files="tweeteval/offensive/{train,val,test}_{text,labels}.txt",
            read_local=functools.partial(read_tweeteval, task="offensive"),
            pool=tweeteval_from_frame,
            hub=HubCopy(TWEETEVAL_HUB, TWEETEVAL_REVISION, tweeteval_from_hub, "offensive"),
            pinned_data={"cpu": DataPin(8000, "92c2f20f7aca79c5afd5aad3cc1de97f4f11572b82adbac8ff3f5d515afb513b")},
            version="2.0",  # tuned recipes (docs/recipes.md) and a validation split of the 1,000 held out
            recipes={
                "minilm-head": Recipe(epochs=30, batch_size=128, lr=1e-3, weight_decay=1e-4, balanced_batches=True),
                "ngram-mlp": Recipe(epochs=20, batch_size=128, lr=3e-4, weight_decay=1e-3, balanced_batches=True),
            },
        ),
        TextDataset(
            name="hate",
            reported_utility=(
                "macro-F1 46.6 (RoBERTa-base, TweetEval hate test split, whose distribution differs from its training split) [barbieri2020tweeteval]"
            ),
            description="HatEval tweets (TweetEval): hateful",
            class_names=("not-hateful", "hateful"),
            flagged_class=1,
            license=_TWEETEVAL_LICENSE,
            citation=("basile2019semeval", "barbieri2020tweeteval"),
            local_files="tweeteval/hate/{train,val,test}_{text,labels}.txt",
            read_local=functools.partial(read_tweeteval, task="hate"),
            pool=tweeteval_from_frame,
            hub=HubCopy(TWEETEVAL_HUB, TWEETEVAL_REVISION, tweeteval_from_hub, "hate"),
            pinned_data={"cpu": DataPin(8000, "fdaf1f3d0e701c6e9acd0b66f9530631bced6d9b699e77196f1e6c68562a3e74")},
            version="2.0",  # tuned recipes (docs/recipes.md) and a validation split of the 1,000 held out
            recipes={
                "minilm-head": Recipe(epochs=30, batch_size=128, lr=1e-3, weight_decay=1e-3, balanced_batches=True),
                "ngram-mlp": Recipe(epochs=5, batch_size=128, lr=1e-3, weight_decay=1e-4, balanced_batches=True),
            },
        ),
        TextDataset(
            name="toxicity-davidson",
            reported_utility=(
                "support-weighted F1 0.90, hate-class recall 0.61 (logistic regression on TF-IDF n-grams) [davidson2017automated]"
            ),
            description="Davidson et al. tweets: hate, offensive or neither",
            class_names=("hate", "offensive", "neither"),
            flagged_class=0,
            license="MIT",
            citation=("davidson2017automated",),
            local_files=DAVIDSON_FILE,
            read_local=read_davidson,
            pool=davidson_from_frame,
            hub=HubCopy(DAVIDSON_HUB, DAVIDSON_REVISION, davidson_from_hub),
            pinned_data={"cpu": DataPin(8000, "dabb6edd589797283d6e93cde836a994d9d7a97fcadc6ac67d69fa21127889c1")},
        ),
        # The binary tasks of the seed paper's shape (Hughes et al. 2026: a "needs support" classifier).
        TextDataset(
            name="depression",
            description=(
                "Depression Reddit (cleaned) posts: depressive (49%); stands in for the paper's 'needs support' "
                "screen, at post level. Easy: the non-depressive posts are short and tweet-like (median 13 "
                "words, the depressive 78), and all text is lower-cased and lemmatised"
            ),
            class_names=("non-depressive", "depressive"),
            flagged_class=1,
            license=(
                "unclear: a Kaggle upload of scraped posts without stated provenance, marked CC0 there "
                "(re-uploads say CC0 or CC BY 4.0); Reddit's terms apply"
            ),
            citation=("infamouscoder2022depression",),
            local_files=DEPRESSION_FILE,
            read_local=read_depression,
            pool=depression_from_frame,
            hub=HubCopy(DEPRESSION_HUB, None, depression_from_hub),
            test_size=1000,  # of 7.65k posts; half of it the validation split
            pinned_data={"cpu": DataPin(6650, "5faaa1383a8c4714a0a13ac9b191df7c010da8cf3ee72fd5af61dcf466425029")},
            version="2.0",  # tuned recipes (docs/recipes.md) and a validation split
            recipes={
                "minilm-head": Recipe(epochs=10, batch_size=128, lr=3e-4, weight_decay=1e-3),
                "ngram-mlp": Recipe(epochs=5, batch_size=128, lr=1e-3, weight_decay=1e-3, balanced_batches=True),
            },
        ),
        TextDataset(
            name="support-dialogue",
            description=(
                "ESConv whole dialogues (Seeker:/Supporter: turns in order): severe, the seeker's initial emotion "
                "intensity >= 4 (76%); stands in for the paper's conversation-level 'needs support' classifier as "
                "triage among support conversations (no benign chat is offline). minilm-head reads the first 256 "
                "tokens (the opening, ~46% of a median 583-token dialogue), minilm-finetune the first 128"
            ),
            class_names=("not-severe", "severe"),
            flagged_class=1,
            license="CC BY-NC 4.0",
            citation=("liu2021towards",),
            local_files="esconv/esconv_{train,valid,test}.json",
            read_local=read_esconv,
            pool=support_dialogue_from_records,
            # Unpinned: no commit of the Hub copy could be verified offline.
            hub=HubCopy(ESCONV_HUB, None, esconv_from_hub),
            test_size=260,  # of 1.3k conversations, as support; half of it the validation split
            pinned_data={"cpu": DataPin(1040, "80593cdbd6a6daba39f6137ca3dcaa31b9c9d9cb2f2350cd397025b7cc870248")},
            version="2.0",  # tuned recipes (docs/recipes.md) and a validation split
            recipes={
                "minilm-head": Recipe(epochs=30, batch_size=128, lr=1e-3, weight_decay=1e-4, balanced_batches=True),
                "ngram-mlp": Recipe(epochs=20, batch_size=128, lr=1e-3, weight_decay=1e-3, balanced_batches=True),
            },
        ),
    )
}
