"""Raw text of the safety-classifier tasks: seven datasets, each read into one deduplicated pool.

``load_<name>(data_dir)`` reads the local copy under ``data_dir`` (the layout of the shared data folder,
e.g. ``goemotions/train.tsv``) or, with ``data_dir`` None, the public source on the Hugging Face Hub.
Both go through the same conversion (a ``*_from_hub`` function turns a Hub ``DatasetDict`` into the
columns of the local files), so two copies that agree give the same examples.

Every loader concatenates the dataset's official splits in order (train, dev/validation, test) into one
pool, because the task draws its own population and test set, and then removes exact duplicate texts
(:func:`dedup_texts`): a text on both sides of the membership split would corrupt membership labels.
``ids`` are row (or record) indices into that concatenation, so they are stable across runs.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from miabench.data import DATA_DIR_ENV, load_hub, require_file
from miabench.errors import UserError


@dataclass
class TextData:
    """One dataset's pool of examples, deduplicated, texts stripped."""

    texts: list[str]
    labels: np.ndarray  # int64 [N], indices into class_names
    ids: np.ndarray  # int64 [N]: row or record index in the concatenated official splits
    severe: np.ndarray | None = None  # bool [N], only for support: initial emotion intensity >= 4
    class_names: tuple[str, ...] = ()

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


def _finish(
    texts: Sequence[str],
    labels: np.ndarray,
    ids: np.ndarray,
    class_names: Sequence[str],
    severe: np.ndarray | None = None,
) -> TextData:
    """Strip and deduplicate a pool, checking the labels index into ``class_names``."""
    texts = [str(text).strip() for text in texts]
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(f"labels outside 0..{len(class_names) - 1}")
    keep = dedup_texts(texts, labels)
    return TextData(
        texts=[texts[i] for i in keep],
        labels=labels[keep],
        ids=np.asarray(ids, dtype=np.int64)[keep],
        severe=None if severe is None else np.asarray(severe, dtype=bool)[keep],
        class_names=tuple(class_names),
    )


def _require_all(data_dir: Path, relatives: Iterable[str], how_to_get: str) -> list[Path]:
    """Every file, or a UserError naming the first one missing."""
    return [require_file(data_dir, relative, how_to_get) for relative in relatives]


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
GOEMOTIONS_FILES = ("goemotions/train.tsv", "goemotions/dev.tsv", "goemotions/test.tsv")
# GoEmotions label ids (emotions.txt): disappointment, fear, grief, nervousness, remorse, sadness.
DISTRESS_EMOTIONS = frozenset({9, 14, 16, 19, 24, 25})
DISTRESS_CLASSES = ("no-distress", "distress")

GOEMOTIONS_CITATION = """@inproceedings{demszky2020goemotions,
  title     = {{GoEmotions}: A Dataset of Fine-Grained Emotions},
  author    = {Demszky, Dorottya and Movshovitz-Attias, Dana and Ko, Jeongwoo and Cowen, Alan and
               Nemade, Gaurav and Ravi, Sujith},
  booktitle = {Proceedings of the 58th Annual Meeting of the Association for Computational Linguistics},
  pages     = {4040--4054},
  year      = {2020},
  publisher = {Association for Computational Linguistics},
  doi       = {10.18653/v1/2020.acl-main.372}
}"""


def read_goemotions(data_dir: Path) -> pd.DataFrame:
    """Columns ``text``, ``labels`` (list of emotion ids), ``id`` from the three TSV files, in order."""
    paths = _require_all(data_dir, GOEMOTIONS_FILES, f"load {GOEMOTIONS_HUB} from the Hugging Face Hub")
    frames = []
    for path in paths:
        # No header. Texts holding quotes are CSV-quoted ("" for "): the default quoting undoes that.
        frame = pd.read_csv(
            path, sep="\t", header=None, names=["text", "labels", "id"], dtype=str, keep_default_na=False
        )
        frame["labels"] = [[int(label) for label in labels.split(",")] for labels in frame["labels"]]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def goemotions_from_hub(splits) -> pd.DataFrame:
    """The columns of :func:`read_goemotions` from the Hub's ``simplified`` config (text, labels, id)."""
    frame = _hub_frame(splits, ("text", "labels", "id"), GOEMOTIONS_HUB)
    frame["labels"] = [[int(label) for label in labels] for labels in frame["labels"]]
    return frame


def distress_from_frame(frame: pd.DataFrame) -> TextData:
    labels = np.array([bool(DISTRESS_EMOTIONS.intersection(labels)) for labels in frame["labels"]], dtype=np.int64)
    return _finish(frame["text"].tolist(), labels, np.arange(len(frame)), DISTRESS_CLASSES)


def load_distress(data_dir: Path | None) -> TextData:
    """GoEmotions comments; 1 when any of the six distress emotions is annotated."""
    if data_dir is None:
        frame = goemotions_from_hub(load_hub(GOEMOTIONS_HUB, "goemotions/{train,dev,test}.tsv", GOEMOTIONS_CONFIG))
    else:
        frame = read_goemotions(data_dir)
    return distress_from_frame(frame)


# ---------------------------------------------------------------------------------------------------------
# stress: Dreaddit
# ---------------------------------------------------------------------------------------------------------

# Not verified against the Hub (unreachable here): the brief's placeholder name for the public copy.
DREADDIT_HUB = "dreaddit"
DREADDIT_FILES = ("dreaddit/dreaddit-train.csv", "dreaddit/dreaddit-test.csv")
STRESS_CLASSES = ("no-stress", "stress")
# A spreadsheet round trip replaced some segments with Excel's formula error: their text is lost.
_LOST_TEXTS = frozenset({"", "#NAME?"})
# Two posts sharing a sentence this long are copies of one post; shorter ones ("I don't know what to do.")
# recur by chance.
MIN_SHARED_SENTENCE = 40
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

DREADDIT_CITATION = """@inproceedings{turcan2019dreaddit,
  title     = {Dreaddit: A {Reddit} Dataset for Stress Analysis in Social Media},
  author    = {Turcan, Elsbeth and McKeown, Kathy},
  booktitle = {Proceedings of the Tenth International Workshop on Health Text Mining and Information Analysis
               (LOUHI 2019)},
  pages     = {97--107},
  year      = {2019},
  publisher = {Association for Computational Linguistics},
  doi       = {10.18653/v1/D19-6213}
}"""


def read_dreaddit(data_dir: Path) -> pd.DataFrame:
    """Columns ``text``, ``label``, ``post_id`` (one row per annotated segment) from both CSV files, in order."""
    paths = _require_all(data_dir, DREADDIT_FILES, f"load {DREADDIT_HUB} from the Hugging Face Hub")
    frames = [
        pd.read_csv(
            path, usecols=["text", "label", "post_id"], dtype={"text": str, "post_id": str}, keep_default_na=False
        )
        for path in paths
    ]
    return pd.concat(frames, ignore_index=True)[["text", "label", "post_id"]]


def dreaddit_from_hub(splits) -> pd.DataFrame:
    """The columns of :func:`read_dreaddit` from a Hub copy with the same columns."""
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
    return _finish(posts["text"].tolist(), posts["label"].to_numpy(), posts["row"].to_numpy(), STRESS_CLASSES)


def load_stress(data_dir: Path | None) -> TextData:
    """Dreaddit posts; 1 = stress."""
    if data_dir is None:
        frame = dreaddit_from_hub(load_hub(DREADDIT_HUB, "dreaddit/dreaddit-{train,test}.csv"))
    else:
        frame = read_dreaddit(data_dir)
    return stress_from_frame(frame)


# ---------------------------------------------------------------------------------------------------------
# selfharm: SDCNL
# ---------------------------------------------------------------------------------------------------------

SDCNL_URL = "https://github.com/ayaanzhaque/SDCNL"
SDCNL_FILES = ("sdcnl/training-set.csv", "sdcnl/testing-set.csv")
SELFHARM_CLASSES = ("depression", "suicide-watch")
# The authors' scrape writes this placeholder for a post with a title only.
_SDCNL_EMPTY = "emptypost"

SDCNL_CITATION = """@inproceedings{haque2021sdcnl,
  title     = {Deep Learning for Suicide and Depression Identification with Unsupervised Label Correction},
  author    = {Haque, Ayaan and Reddi, Viraaj and Giallanza, Tyler},
  booktitle = {Artificial Neural Networks and Machine Learning -- ICANN 2021},
  series    = {Lecture Notes in Computer Science},
  volume    = {12895},
  pages     = {436--447},
  year      = {2021},
  publisher = {Springer},
  doi       = {10.1007/978-3-030-86383-8_35}
}"""


def read_sdcnl(data_dir: Path) -> pd.DataFrame:
    """Columns ``title``, ``selftext``, ``is_suicide`` from both CSV files, in order."""
    paths = _require_all(data_dir, SDCNL_FILES, f"use the CSV files of {SDCNL_URL} (data/), the only public source")
    frames = [
        pd.read_csv(
            path,
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
    return _finish(texts, labels, np.arange(len(frame)), SELFHARM_CLASSES)


def load_selfharm(data_dir: Path | None) -> TextData:
    """SDCNL Reddit posts: 1 = r/SuicideWatch, 0 = r/depression. No Hub copy: needs a local folder."""
    if data_dir is None:
        raise UserError(
            f"SDCNL has no copy on the Hugging Face Hub: set {DATA_DIR_ENV} (or --data-dir) to a folder holding "
            f"sdcnl/training-set.csv and sdcnl/testing-set.csv (the data/ folder of {SDCNL_URL})"
        )
    return selfharm_from_frame(read_sdcnl(data_dir))


# ---------------------------------------------------------------------------------------------------------
# support: ESConv
# ---------------------------------------------------------------------------------------------------------

ESCONV_HUB = "thu-coai/esconv"
ESCONV_FILES = ("esconv/esconv_train.json", "esconv/esconv_valid.json", "esconv/esconv_test.json")
OTHER_EMOTION = "other"
MIN_EMOTION_SHARE = 0.05  # emotion types on fewer conversations than this share merge into "other"
SEVERE_INTENSITY = 4  # initial emotion intensity (1-5) at or above which a seeker counts as severe

ESCONV_CITATION = """@inproceedings{liu2021towards,
  title     = {Towards Emotional Support Dialog Systems},
  author    = {Liu, Siyang and Zheng, Chujie and Demasi, Orianna and Sabour, Sahand and Li, Yu and Yu, Zhou and
               Jiang, Yong and Huang, Minlie},
  booktitle = {Proceedings of the 59th Annual Meeting of the Association for Computational Linguistics and the
               11th International Joint Conference on Natural Language Processing (Volume 1: Long Papers)},
  pages     = {3469--3483},
  year      = {2021},
  publisher = {Association for Computational Linguistics},
  doi       = {10.18653/v1/2021.acl-long.269}
}"""


def read_esconv(data_dir: Path) -> list[dict]:
    """The conversations of the three JSON-lines files, in order."""
    paths = _require_all(data_dir, ESCONV_FILES, f"load {ESCONV_HUB} from the Hugging Face Hub")
    records = []
    for path in paths:
        with open(path, encoding="utf-8") as lines:
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


def load_support(data_dir: Path | None) -> TextData:
    """ESConv emotional-support conversations; label = the seeker's emotion type."""
    if data_dir is None:
        records = esconv_from_hub(load_hub(ESCONV_HUB, "esconv/esconv_{train,valid,test}.json"))
    else:
        records = read_esconv(data_dir)
    return support_from_records(records)


# ---------------------------------------------------------------------------------------------------------
# toxicity and hate: TweetEval (OLID, HatEval)
# ---------------------------------------------------------------------------------------------------------

TWEETEVAL_HUB = "cardiffnlp/tweet_eval"
TWEETEVAL_SPLITS = ("train", "val", "test")
TOXICITY_CLASSES = ("not-offensive", "offensive")
HATE_CLASSES = ("not-hateful", "hateful")

TWEETEVAL_CITATION = """@inproceedings{barbieri2020tweeteval,
  title     = {{TweetEval}: Unified Benchmark and Comparative Evaluation for Tweet Classification},
  author    = {Barbieri, Francesco and Camacho-Collados, Jose and Espinosa Anke, Luis and Neves, Leonardo},
  booktitle = {Findings of the Association for Computational Linguistics: EMNLP 2020},
  pages     = {1644--1650},
  year      = {2020},
  publisher = {Association for Computational Linguistics},
  doi       = {10.18653/v1/2020.findings-emnlp.148}
}"""

OLID_CITATION = (
    """@inproceedings{zampieri2019predicting,
  title     = {Predicting the Type and Target of Offensive Posts in Social Media},
  author    = {Zampieri, Marcos and Malmasi, Shervin and Nakov, Preslav and Rosenthal, Sara and Farra, Noura and
               Kumar, Ritesh},
  booktitle = {Proceedings of the 2019 Conference of the North American Chapter of the Association for
               Computational Linguistics: Human Language Technologies, Volume 1 (Long and Short Papers)},
  pages     = {1415--1420},
  year      = {2019},
  publisher = {Association for Computational Linguistics},
  doi       = {10.18653/v1/N19-1144}
}

"""
    + TWEETEVAL_CITATION
)

HATEVAL_CITATION = (
    """@inproceedings{basile2019semeval,
  title     = {{SemEval}-2019 Task 5: Multilingual Detection of Hate Speech Against Immigrants and Women in
               {Twitter}},
  author    = {Basile, Valerio and Bosco, Cristina and Fersini, Elisabetta and Nozza, Debora and Patti, Viviana and
               Rangel Pardo, Francisco Manuel and Rosso, Paolo and Sanguinetti, Manuela},
  booktitle = {Proceedings of the 13th International Workshop on Semantic Evaluation},
  pages     = {54--63},
  year      = {2019},
  publisher = {Association for Computational Linguistics},
  doi       = {10.18653/v1/S19-2007}
}

"""
    + TWEETEVAL_CITATION
)


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
        split_texts, split_labels = _read_lines(text_path), _read_lines(label_path)
        if len(split_texts) != len(split_labels):
            raise UserError(
                f"{text_path} has {len(split_texts)} lines but {label_path} has {len(split_labels)}: "
                f"replace both with the TweetEval release"
            )
        texts += split_texts
        labels += [int(label) for label in split_labels]
    return pd.DataFrame({"text": texts, "label": np.asarray(labels, dtype=np.int64)})


def tweeteval_from_hub(splits) -> pd.DataFrame:
    """The columns of :func:`read_tweeteval` from a Hub config of ``cardiffnlp/tweet_eval``."""
    return _hub_frame(splits, ("text", "label"), TWEETEVAL_HUB)


def _tweeteval_from_frame(frame: pd.DataFrame, class_names: tuple[str, ...]) -> TextData:
    return _finish(frame["text"].tolist(), frame["label"].to_numpy(), np.arange(len(frame)), class_names)


def _load_tweeteval(data_dir: Path | None, task: str, class_names: tuple[str, ...]) -> TextData:
    if data_dir is None:
        splits = load_hub(TWEETEVAL_HUB, f"tweeteval/{task}/{{train,val,test}}_{{text,labels}}.txt", task)
        frame = tweeteval_from_hub(splits)
    else:
        frame = read_tweeteval(data_dir, task)
    return _tweeteval_from_frame(frame, class_names)


def load_toxicity(data_dir: Path | None) -> TextData:
    """OLID (OffensEval 2019) tweets via TweetEval; 1 = offensive."""
    return _load_tweeteval(data_dir, "offensive", TOXICITY_CLASSES)


def load_hate(data_dir: Path | None) -> TextData:
    """HatEval 2019 tweets (English) via TweetEval; 1 = hateful (against immigrants or women)."""
    return _load_tweeteval(data_dir, "hate", HATE_CLASSES)


# ---------------------------------------------------------------------------------------------------------
# toxicity-davidson: Davidson et al.
# ---------------------------------------------------------------------------------------------------------

DAVIDSON_HUB = "tdavidson/hate_speech_offensive"
DAVIDSON_FILE = "davidson/labeled_data.csv"
DAVIDSON_CLASSES = ("hate", "offensive", "neither")

DAVIDSON_CITATION = """@inproceedings{davidson2017automated,
  title     = {Automated Hate Speech Detection and the Problem of Offensive Language},
  author    = {Davidson, Thomas and Warmsley, Dana and Macy, Michael and Weber, Ingmar},
  booktitle = {Proceedings of the Eleventh International AAAI Conference on Web and Social Media (ICWSM)},
  volume    = {11},
  number    = {1},
  pages     = {512--515},
  year      = {2017},
  doi       = {10.1609/icwsm.v11i1.14955}
}"""


def read_davidson(data_dir: Path) -> pd.DataFrame:
    """Columns ``tweet``, ``class`` from ``labeled_data.csv``."""
    path = require_file(data_dir, DAVIDSON_FILE, f"load {DAVIDSON_HUB} from the Hugging Face Hub")
    return pd.read_csv(path, usecols=["tweet", "class"], dtype={"tweet": str}, keep_default_na=False)[
        ["tweet", "class"]
    ]


def davidson_from_hub(splits) -> pd.DataFrame:
    """The columns of :func:`read_davidson` from the Hub copy (one split, ``train``)."""
    return _hub_frame(splits, ("tweet", "class"), DAVIDSON_HUB)


def davidson_from_frame(frame: pd.DataFrame) -> TextData:
    return _finish(frame["tweet"].tolist(), frame["class"].to_numpy(), np.arange(len(frame)), DAVIDSON_CLASSES)


def load_toxicity_davidson(data_dir: Path | None) -> TextData:
    """Davidson et al. tweets, raw (HTML entities such as ``&amp;`` kept): 0 hate, 1 offensive, 2 neither."""
    frame = davidson_from_hub(load_hub(DAVIDSON_HUB, DAVIDSON_FILE)) if data_dir is None else read_davidson(data_dir)
    return davidson_from_frame(frame)


# ---------------------------------------------------------------------------------------------------------
# Registry of loaders and their metadata
# ---------------------------------------------------------------------------------------------------------

LOADERS: dict[str, Callable[[Path | None], TextData]] = {
    "distress": load_distress,
    "stress": load_stress,
    "selfharm": load_selfharm,
    "support": load_support,
    "toxicity": load_toxicity,
    "hate": load_hate,
    "toxicity-davidson": load_toxicity_davidson,
}

_TWEETEVAL_LICENSE = "TweetEval: no restrictions stated; the original task's terms and the Twitter terms apply"

METADATA: dict[str, dict[str, str]] = {
    "distress": {"citation": GOEMOTIONS_CITATION, "license": "Apache-2.0", "source": f"hf:{GOEMOTIONS_HUB}"},
    "stress": {
        "citation": DREADDIT_CITATION,
        "license": "none stated (research release; Reddit content)",
        "source": f"hf:{DREADDIT_HUB}",
    },
    "selfharm": {"citation": SDCNL_CITATION, "license": "none stated", "source": SDCNL_URL},
    "support": {"citation": ESCONV_CITATION, "license": "CC BY-NC 4.0", "source": f"hf:{ESCONV_HUB}"},
    "toxicity": {
        "citation": OLID_CITATION,
        "license": _TWEETEVAL_LICENSE,
        "source": f"hf:{TWEETEVAL_HUB} (config offensive)",
    },
    "hate": {
        "citation": HATEVAL_CITATION,
        "license": _TWEETEVAL_LICENSE,
        "source": f"hf:{TWEETEVAL_HUB} (config hate)",
    },
    "toxicity-davidson": {"citation": DAVIDSON_CITATION, "license": "MIT", "source": f"hf:{DAVIDSON_HUB}"},
}
