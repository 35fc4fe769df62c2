"""The raw text datasets (tasks/text_data.py): real files, synthetic frames, Hub conversions, declared classes."""

import itertools
import json
from collections import Counter

import datasets
import numpy as np
import pandas as pd
import pytest

from miabench import citations
from miabench.errors import UserError
from miabench.tasks import text_data
from miabench.tasks.text_data import DATASETS, TextData, dedup_texts

# Sizes on the shared data folder (MANIFEST.sha256), after concatenating the splits and deduplicating:
#   distress           53,991 of 54,263 comments       (4,560 distress, 8.45%)
#   stress              2,718 posts of 3,553 segments  (1,480 stress); 2,929 post ids before dropping
#   selfharm            1,888 of 1,895 posts           (977 suicide-watch)
#   support             1,300 of 1,300 conversations   (anxiety 354, depression 334, sadness 308, anger 111,
#                                                       other 98, fear 95); 994 severe
#   toxicity           14,040 of 14,100 tweets         (4,625 offensive)
#   hate               12,626 of 12,970 tweets         (5,233 hateful)
#   toxicity-davidson  24,783 of 24,783 tweets         (1,430 hate, 19,190 offensive, 4,163 neither)
#   depression          7,650 of 7,731 posts           (3,761 depressive, 49.2%); no text carries both labels
#   support-dialogue    1,300 of 1,300 conversations   (994 severe, 76.5%)
PLAUSIBLE_SIZES = {
    "distress": (53_000, 54_263),
    "stress": (2_500, 2_929),
    "selfharm": (1_850, 1_895),
    "support": (1_290, 1_300),
    "toxicity": (13_800, 14_100),
    "hate": (12_300, 12_970),
    "toxicity-davidson": (24_500, 24_783),
    "depression": (7_600, 7_731),
    "support-dialogue": (1_290, 1_300),
}


class _Loaded(dict):
    """Each dataset loaded once from the shared data folder, on first use; a test skips when its files are
    missing there (a data folder from before the dataset was added)."""

    def __init__(self, data_dir):
        super().__init__()
        self.data_dir = data_dir

    def __missing__(self, name):
        try:
            self[name] = DATASETS[name].load(self.data_dir)
        except UserError as error:
            if str(error).startswith("missing data file"):
                pytest.skip(f"dataset '{name}': {error}")
            raise
        return self[name]


@pytest.fixture(scope="module")
def loaded(data_dir):
    return _Loaded(data_dir)


def splits(**columns_by_split):
    """A ``DatasetDict`` of in-memory splits, each given as a dict of columns."""
    return datasets.DatasetDict({name: datasets.Dataset.from_dict(cols) for name, cols in columns_by_split.items()})


# --- the shared deduplication -----------------------------------------------------------------------------


def test_dedup_keeps_first_copy_and_drops_conflicting_copies():
    frame = pd.DataFrame(
        {
            "text": ["  same", "same ", "clash", "other", "clash", "", "same", "  "],
            "label": [1, 1, 0, 1, 1, 0, 1, 0],
        }
    )
    keep = dedup_texts(frame["text"].tolist(), frame["label"].to_numpy())
    # "same" three times with one label: the first copy stays; "clash" disagrees: both copies go; empties go.
    assert keep.tolist() == [0, 3]


def test_dedup_accepts_string_labels():
    assert dedup_texts(["a", "a", "b", "b"], ["x", "x", "y", "z"]).tolist() == [0]


def test_finish_strips_and_keeps_ids_of_the_first_copies():
    data = text_data._finish([" b ", "a", "b", "c\n"], np.array([1, 0, 1, 0]), np.array([10, 11, 12, 13]))
    assert data.texts == ["b", "a", "c"]
    assert data.labels.tolist() == [1, 0, 0] and data.labels.dtype == np.int64
    assert data.ids.tolist() == [10, 11, 13] and data.ids.dtype == np.int64


# --- the declared classes ---------------------------------------------------------------------------------


def pool(labels, class_names=()):
    return TextData(
        [f"text {i}" for i in range(len(labels))], np.array(labels), np.arange(len(labels)), None, class_names
    )


def test_a_pool_takes_the_declared_class_names():
    checked = DATASETS["distress"].check(pool([0, 1, 1]))
    assert checked.class_names == ("no-distress", "distress") and checked.labels.tolist() == [0, 1, 1]
    support = DATASETS["support"]
    assert support.check(pool([0, 5], support.class_names)).class_names == support.class_names


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("distress", pool([0, 2]), "task 'distress': the data holds label 2, outside its 2 classes 0..1"),
        ("toxicity-davidson", pool([-1, 0]), "label -1, outside its 3 classes 0..2"),
        (
            "support",
            pool([0, 1], ("anxiety", "sadness", "other")),
            "task 'support': the data's classes (anxiety, sadness, other) are not the declared (anger, anxiety",
        ),
    ],
)
def test_classes_other_than_the_declared_are_a_one_line_error(name, data, expected):
    with pytest.raises(UserError) as error:
        DATASETS[name].check(data)
    message = str(error.value)
    assert "\n" not in message and expected in message
    assert f"replace the data with the release of {DATASETS[name].source}" in message


# --- every loader on the real files -----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(DATASETS))
def test_real_dataset_is_a_clean_pool(loaded, name):
    data = loaded[name]
    low, high = PLAUSIBLE_SIZES[name]
    assert low <= len(data) <= high
    assert data.labels.dtype == np.int64 and data.labels.shape == (len(data),)
    assert data.ids.dtype == np.int64 and len(np.unique(data.ids)) == len(data)
    assert data.class_names == DATASETS[name].class_names and len(set(data.class_names)) == len(data.class_names)
    # Labels index into class_names, and every class occurs.
    assert set(data.labels.tolist()) == set(range(len(data.class_names)))
    assert all(isinstance(text, str) and text and text == text.strip() for text in data.texts)
    assert len(set(data.texts)) == len(data)
    assert (data.severe is not None) == (name == "support")


def test_distress_positive_rate(loaded):
    rate = loaded["distress"].labels.mean()
    assert 0.08 <= rate <= 0.09  # 8.45% on the shared copy


def test_distress_labels_follow_the_emotion_ids(data_dir, loaded):
    frame = text_data.read_goemotions(data_dir)
    data = loaded["distress"]
    expected = [bool({9, 14, 16, 19, 24, 25} & set(frame["labels"][i])) for i in data.ids]
    assert data.labels.tolist() == [int(flag) for flag in expected]
    # A field holding quotes is CSV-quoted in the TSV ("...""hurt""..."): it comes back as written.
    assert 'Pretty sure you don\'t know what "hurt" means' in data.texts


def test_stress_is_one_example_per_post(data_dir, loaded):
    data = loaded["stress"]
    segments = text_data.read_dreaddit(data_dir)
    post_ids = segments["post_id"].to_numpy()[data.ids]
    assert len(set(post_ids)) == len(data)  # each kept post id once
    # Each example is the first row of its post, and its text is that post's segments in file order.
    present = segments.reset_index()[segments["text"].str.strip().ne("#NAME?").to_numpy()]
    first_rows = present.groupby("post_id")["index"].min()
    assert all(first_rows[post] == row for post, row in zip(post_ids, data.ids))
    texts = segments["text"].str.strip()
    for post, text in zip(post_ids[:200], data.texts[:200]):
        parts = [part for part in texts[segments["post_id"] == post] if part != "#NAME?"]
        assert text == " ".join(parts)


def test_stress_no_post_text_appears_in_another_example(data_dir, loaded):
    data = loaded["stress"]
    segments = text_data.read_dreaddit(data_dir)
    post_ids = segments["post_id"].to_numpy()[data.ids]
    example_of = dict(zip(post_ids, range(len(data))))
    joined = "\x00".join(data.texts)
    starts = np.cumsum([0] + [len(text) + 1 for text in data.texts])
    for post, text in zip(segments["post_id"], segments["text"].str.strip()):
        if post not in example_of or text == "#NAME?":
            continue
        at = joined.find(text)
        while at != -1:  # every occurrence must lie inside the post's own example
            assert np.searchsorted(starts, at, side="right") - 1 == example_of[post], text[:80]
            at = joined.find(text, at + 1)


def test_support_is_one_example_per_conversation(data_dir, loaded):
    data = loaded["support"]
    records = text_data.read_esconv(data_dir)
    assert len(records) == 1300
    assert len(data) == len(records) and sorted(data.ids.tolist()) == list(range(len(records)))
    record = records[int(data.ids[0])]
    assert data.texts[0] == "\n".join(turn["text"].strip() for turn in record["dialog"] if turn["speaker"] == "usr")

    assert data.severe.dtype == np.bool_ and set(data.severe.tolist()) == {False, True}
    intensities = [int(records[i]["survey_score"]["seeker"]["initial_emotion_intensity"]) for i in data.ids]
    assert data.severe.tolist() == [value >= 4 for value in intensities]

    counts = Counter(record["emotion_type"] for record in records)
    rare = {emotion for emotion, count in counts.items() if count < 0.05 * len(records)}
    assert ("other" in data.class_names) == bool(rare)
    assert data.class_names == (*sorted(set(counts) - rare), "other")
    names = [data.class_names[label] for label in data.labels]
    assert names == ["other" if records[i]["emotion_type"] in rare else records[i]["emotion_type"] for i in data.ids]


def test_selfharm_text_is_title_then_body(data_dir, loaded):
    data = loaded["selfharm"]
    frame = text_data.read_sdcnl(data_dir)
    row = frame.iloc[int(data.ids[0])]
    assert data.texts[0] == f"{row['title'].strip()}\n{row['selftext'].strip()}".strip()
    assert not any(text.endswith("emptypost") for text in data.texts)  # the scrape's placeholder is removed


def test_depression_removes_the_duplicate_posts_before_drawing(data_dir, loaded):
    data = loaded["depression"]
    frame = text_data.read_depression(data_dir)
    assert len(frame) == 7731 and frame["is_depressive"].value_counts().to_dict() == {0: 3900, 1: 3831}
    stripped = frame["text"].str.strip()
    # 81 rows repeat an earlier post (always with the same label): the first copy of each stays.
    assert stripped.duplicated().sum() == 81 and len(data) == stripped.nunique() == 7650
    assert data.ids.tolist() == np.flatnonzero(~stripped.duplicated().to_numpy()).tolist()
    assert data.texts == stripped[data.ids].tolist()
    assert data.labels.tolist() == frame["is_depressive"][data.ids].tolist()
    assert data.class_names[DATASETS["depression"].flagged_class] == "depressive"
    assert (data.labels == 1).sum() == 3761


def test_support_dialogue_is_the_whole_dialogue_labelled_severe(data_dir, loaded):
    data, support = loaded["support-dialogue"], loaded["support"]
    records = text_data.read_esconv(data_dir)
    assert len(data) == len(records) == 1300 and data.ids.tolist() == list(range(1300))
    assert data.class_names == ("not-severe", "severe") and DATASETS["support-dialogue"].flagged_class == 1
    # The label is the support task's severe subgroup: initial emotion intensity >= 4.
    assert data.labels.tolist() == support.severe[np.argsort(support.ids)].astype(int).tolist()
    assert data.labels.sum() == 994
    # Every utterance, of both speakers, in order; the seeker's are exactly the support task's text.
    record = records[0]
    lines = data.texts[0].split("\n")
    assert lines[:3] == ["Seeker: Hello good afternoon.", "Supporter: Hi, good afternoon.",
                         "Seeker: I'm feeling anxious that I am going to lose my job."]  # fmt: skip
    assert " ".join(line.split(": ", 1)[1] for line in lines) == " ".join(
        turn["text"].strip() for turn in record["dialog"] if turn["text"].strip()
    )
    for text, index in zip(data.texts, data.ids):
        speakers = [line.split(":", 1)[0] for line in text.split("\n")]
        assert set(speakers) == {"Seeker", "Supporter"}
        assert all(a != b for a, b in itertools.pairwise(speakers))  # one line per turn: speakers alternate
        seeker = "\n".join(line.removeprefix("Seeker: ") for line in text.split("\n") if line.startswith("Seeker: "))
        assert seeker.replace("\n", " ") == support.texts[int(np.flatnonzero(support.ids == index)[0])].replace(
            "\n", " "
        )


# --- synthetic frames ---------------------------------------------------------------------------------------


def test_stress_merges_segments_and_drops_conflicts():
    frame = pd.DataFrame(
        {
            "text": [
                "A one. ",
                "B one.",
                "A two.",
                "C conflict.",
                "#NAME?",
                "C other half.",
                "D alone.",
                "B one.",  # cross-post of B with another segment: joins B's group, same label
                "E copy.",
                "E copy.",  # E cross-posted with a different label: both posts go
                "A long first sentence that is well over forty characters. Then more.",
                "Shared. A long first sentence that is well over forty characters. Other.",  # shares a sentence
            ],
            "label": [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0],
            "post_id": ["a", "b", "a", "c", "d", "c", "d", "b2", "e", "e2", "f", "f2"],
        }
    )
    data = text_data.stress_from_frame(frame)
    assert data.texts == ["A one. A two.", "B one.", "D alone.", data.texts[3]]
    assert data.texts[3].startswith("A long first sentence")
    assert data.labels.tolist() == [1, 0, 1, 0]
    assert data.ids.tolist() == [0, 1, 6, 10]  # first row of each kept post
    assert DATASETS["stress"].check(data).class_names == ("no-stress", "stress")


def test_selfharm_handles_missing_and_placeholder_bodies():
    frame = pd.DataFrame(
        {
            "title": ["Need help", "Title only", "Also title", " dup ", "dup"],
            "selftext": ["Body text.", float("nan"), "emptypost", "", None],
            "is_suicide": [1, 0, 0, 1, 1],
        }
    )
    data = text_data.selfharm_from_frame(frame)
    assert data.texts == ["Need help\nBody text.", "Title only", "Also title", "dup"]
    assert data.labels.tolist() == [1, 0, 0, 1] and data.ids.tolist() == [0, 1, 2, 3]


def esconv_record(emotion, intensity, seeker_turns, supporter="How can I help?"):
    dialog = [{"text": supporter, "speaker": "sys", "strategy": "Question"}]
    dialog += [{"text": turn, "speaker": "usr"} for turn in seeker_turns]
    return {
        "emotion_type": emotion,
        "problem_type": "job crisis",
        "situation": "x",
        "survey_score": {"seeker": {"initial_emotion_intensity": str(intensity)}},
        "dialog": dialog,
    }


def test_support_merges_rare_emotions_into_other():
    records = [esconv_record("anxiety", 4, [f"worry {i}", "  more "]) for i in range(10)]
    records += [esconv_record("sadness", 2, [f"sad {i}"]) for i in range(9)]
    records.append(esconv_record("pain", 5, ["it hurts"]))  # 1 of 20 = 5%: kept
    data = text_data.support_from_records(records)
    assert data.class_names == ("anxiety", "pain", "sadness")
    assert data.texts[0] == "worry 0\nmore"

    records.append(esconv_record("guilt", 1, ["my fault"]))  # 1 of 21 < 5%: both rare now
    data = text_data.support_from_records(records)
    assert data.class_names == ("anxiety", "sadness", "other")
    assert [data.class_names[label] for label in data.labels[-2:]] == ["other", "other"]
    assert data.severe.tolist() == [True] * 10 + [False] * 9 + [True, False]


def test_support_rejects_a_bad_intensity():
    with pytest.raises(UserError, match="initial_emotion_intensity"):
        text_data.support_from_records([esconv_record("anxiety", "n/a", ["hi"])])


def test_support_dialogue_merges_a_speakers_consecutive_utterances():
    record = esconv_record("anxiety", 4, ["I lost my job.", " ", "I feel awful."])
    record["dialog"] += [{"text": "That sounds hard.", "speaker": "sys"}, {"text": "Yes.", "speaker": "usr"}]
    calm = esconv_record("sadness", 3, ["A bit down."])
    data = text_data.support_dialogue_from_records([record, calm, record, esconv_record("fear", 5, ["A bit down."])])
    assert data.texts[0] == (
        "Supporter: How can I help?\nSeeker: I lost my job. I feel awful.\nSupporter: That sounds hard.\nSeeker: Yes."
    )
    # The repeat of the first dialogue goes (same label); the last two differ in label but not in text: both go.
    assert data.texts == [data.texts[0]] and data.labels.tolist() == [1] and data.ids.tolist() == [0]


def test_support_dialogue_labels_and_bad_records():
    records = [esconv_record("anxiety", intensity, [f"turn {intensity}"]) for intensity in (1, 2, 3, 4, 5)]
    assert text_data.support_dialogue_from_records(records).labels.tolist() == [0, 0, 0, 1, 1]
    with pytest.raises(UserError, match="initial_emotion_intensity"):
        text_data.support_dialogue_from_records([esconv_record("anxiety", "n/a", ["hi"])])
    odd = esconv_record("anxiety", 4, ["hi"])
    odd["dialog"].append({"text": "hello", "speaker": "bot"})
    with pytest.raises(UserError) as error:
        text_data.support_dialogue_from_records([odd])
    assert "conversation 0 has a turn by speaker 'bot'" in str(error.value) and "\n" not in str(error.value)


def write_depression_csv(folder, text):
    (folder / "depression-reddit").mkdir(parents=True, exist_ok=True)
    path = folder / "depression-reddit" / "depression_dataset_reddit_cleaned.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_depression_reader_on_a_synthetic_csv(tmp_path):
    # The shared copy's layout: a header, then text (quoted when it holds a comma or a line break) and 0/1.
    write_depression_csv(
        tmp_path,
        "text,is_depressive\n"
        "i feel empty every day,1\n"
        '"nothing help, i m tired",1\n'
        "off to work now,0\n"
        "  i feel empty every day ,1\n"  # a copy of the first post: dropped
        '"multi\nline post",0\n'
        "NA,0\n"  # a post reading NA is a text, not a missing value
        "same text,1\n"
        "same text,0\n",  # a text under both labels: every copy dropped
    )
    frame = text_data.read_depression(tmp_path)
    assert frame.columns.tolist() == ["text", "is_depressive"] and frame["is_depressive"].dtype == np.int64
    data = DATASETS["depression"].check(text_data.depression_from_frame(frame))
    assert data.texts == [
        "i feel empty every day",
        "nothing help, i m tired",
        "off to work now",
        "multi\nline post",
        "NA",
    ]
    assert data.labels.tolist() == [1, 1, 0, 0, 0] and data.ids.tolist() == [0, 1, 2, 4, 5]
    assert data.class_names == ("non-depressive", "depressive")


def test_depression_reader_takes_the_kaggle_column_names_and_refuses_bad_files(tmp_path):
    write_depression_csv(tmp_path, "clean_text,is_depression\nsad post,1\nhappy post,0\n")
    assert text_data.read_depression(tmp_path).to_dict("list") == {
        "text": ["sad post", "happy post"], "is_depressive": [1, 0]
    }  # fmt: skip
    path = write_depression_csv(tmp_path, "text,label\nsad post,1\n")
    with pytest.raises(UserError, match=rf"{path} has no column 'is_depressive' \(it has text, label\)"):
        text_data.read_depression(tmp_path)
    write_depression_csv(tmp_path, "text,is_depressive\nsad post,yes\n")
    with pytest.raises(UserError) as error:
        text_data.read_depression(tmp_path)
    assert "is damaged" in str(error.value) and "kaggle.com/datasets/infamouscoder" in str(error.value)


def test_tweeteval_reader_keeps_unusual_line_breaks(tmp_path):
    folder = tmp_path / "tweeteval" / "hate"
    folder.mkdir(parents=True)
    for split, texts, labels in [("train", ["a\u2028b", "c"], [0, 1]), ("val", ["d"], [1]), ("test", ["e\x85"], [0])]:
        (folder / f"{split}_text.txt").write_text("".join(f"{text}\n" for text in texts), encoding="utf-8")
        (folder / f"{split}_labels.txt").write_text("".join(f"{label}\n" for label in labels))
    frame = text_data.read_tweeteval(tmp_path, "hate")
    assert frame["text"].tolist() == ["a\u2028b", "c", "d", "e\x85"]
    assert frame["label"].tolist() == [0, 1, 1, 0]

    (folder / "val_labels.txt").write_text("1\n0\n")
    with pytest.raises(UserError, match="val_text.txt has 1 lines"):
        text_data.read_tweeteval(tmp_path, "hate")


# --- the Hub path -------------------------------------------------------------------------------------------


def test_goemotions_from_hub_orders_splits_and_builds_distress():
    hub = splits(
        test={"text": ["t"], "labels": [[25]], "id": ["c"]},
        train={"text": ["a", "b "], "labels": [[27], [2, 14]], "id": ["x", "y"]},
        validation={"text": ["v"], "labels": [[9, 0]], "id": ["z"]},
    )
    frame = text_data.goemotions_from_hub(hub)
    assert frame.columns.tolist() == ["text", "labels", "id"]
    assert frame["text"].tolist() == ["a", "b ", "v", "t"]  # train, validation, test
    assert frame["labels"].tolist() == [[27], [2, 14], [9, 0], [25]]
    data = text_data.distress_from_frame(frame)
    assert data.labels.tolist() == [0, 1, 1, 1] and data.texts[1] == "b"


def test_tweeteval_and_davidson_and_dreaddit_from_hub():
    hub = splits(train={"text": ["x", "y"], "label": [0, 1]}, test={"text": ["z"], "label": [1]})
    assert text_data.tweeteval_from_hub(hub).to_dict("list") == {"text": ["x", "y", "z"], "label": [0, 1, 1]}

    hub = splits(train=dict(count=[3, 3], tweet=["RT a", "b"], **{"class": [2, 0]}))
    assert text_data.davidson_from_hub(hub).to_dict("list") == {"tweet": ["RT a", "b"], "class": [2, 0]}

    hub = splits(train={"text": ["s1", "s2"], "label": [1, 1], "post_id": ["p", "p"], "subreddit": ["ptsd", "ptsd"]})
    assert text_data.stress_from_frame(text_data.dreaddit_from_hub(hub)).texts == ["s1 s2"]


def test_depression_from_hub_takes_either_column_naming():
    kaggle = splits(train={"clean_text": ["x", "y"], "is_depression": [0, 1]})
    shared = datasets.Dataset.from_dict({"text": ["x", "y"], "is_depressive": [0, 1]})  # a lone split
    for hub in (kaggle, shared):
        frame = text_data.depression_from_hub(hub)
        assert frame.to_dict("list") == {"text": ["x", "y"], "is_depressive": [0, 1]}
        assert frame["is_depressive"].dtype == np.int64
    with pytest.raises(UserError, match="hugginglearners/reddit-depression-cleaned has no column 'is_depressive'"):
        text_data.depression_from_hub(splits(train={"text": ["x"], "label": [0]}))


def test_hub_frame_names_a_missing_column():
    with pytest.raises(UserError, match="no column 'tweet'"):
        text_data.davidson_from_hub(datasets.Dataset.from_dict({"text": ["a"], "class": [0]}))


def test_esconv_from_hub_parses_the_json_text_column():
    records = [esconv_record("anxiety", 4, ["hello"]), esconv_record("fear", 2, ["boo"])]
    hub = splits(
        train={"text": [json.dumps(records[0])]},
        validation={"text": [json.dumps(records[1])]},
    )
    assert text_data.esconv_from_hub(hub) == records
    as_columns = text_data.esconv_from_hub(datasets.Dataset.from_list(records))  # a copy with fields as columns
    assert text_data.support_from_records(as_columns).texts == ["hello", "boo"]


@pytest.mark.parametrize(
    ("name", "hub", "expected"),
    [
        (
            "distress",
            splits(train={"text": ["a", "b"], "labels": [[25], [1]], "id": ["i", "j"]}),
            (["a", "b"], [1, 0]),
        ),
        ("stress", splits(train={"text": ["a", "b"], "label": [1, 0], "post_id": ["p", "q"]}), (["a", "b"], [1, 0])),
        ("toxicity", splits(train={"text": ["a", "b"], "label": [1, 0]}), (["a", "b"], [1, 0])),
        ("hate", splits(train={"text": ["a", "a"], "label": [1, 0]}), ([], [])),
        ("toxicity-davidson", splits(train={"tweet": ["a", "b"], "class": [2, 0]}), (["a", "b"], [2, 0])),
        ("depression", splits(train={"clean_text": ["a", "b "], "is_depression": [1, 0]}), (["a", "b"], [1, 0])),
        (
            "support-dialogue",
            splits(train={"text": [json.dumps(esconv_record("fear", 4, ["boo"]))]}),
            (["Supporter: How can I help?\nSeeker: boo"], [1]),
        ),
    ],
)
def test_datasets_without_a_data_dir_read_the_pinned_hub_copy(monkeypatch, name, hub, expected):
    asked = []

    def fake_load_hub(hub_id, local_copy, config=None, revision=None):
        asked.append((hub_id, config, revision))
        return hub

    monkeypatch.setattr(text_data, "load_hub", fake_load_hub)
    dataset = DATASETS[name]
    data = dataset.load(None)
    assert isinstance(data, TextData)
    assert (data.texts, data.labels.tolist()) == expected
    assert asked == [(dataset.hub.id, dataset.hub.config, dataset.hub.revision)]
    assert dataset.source.startswith(f"hf:{dataset.hub.id}")


def test_support_from_the_hub_checks_its_classes(monkeypatch):
    def serve(records):
        hub = splits(train={"text": [json.dumps(record) for record in records]})
        monkeypatch.setattr(text_data, "load_hub", lambda *args, **kwargs: hub)

    emotions = [emotion for emotion in ("anger", "anxiety", "depression", "fear", "sadness") for _ in range(4)]
    records = [esconv_record(emotion, 3, [f"turn {i}"]) for i, emotion in enumerate(emotions)]
    records.append(esconv_record("guilt", 3, ["rare"]))  # 1 of 21, under 5%: merged into "other"
    serve(records)
    data = DATASETS["support"].load(None)
    assert data.class_names == DATASETS["support"].class_names
    assert data.labels.tolist() == [label for label in range(5) for _ in range(4)] + [5]
    serve(records[:1])  # one conversation names one class only, not the task's six
    with pytest.raises(UserError, match=r"the data's classes \(anger\) are not the declared"):
        DATASETS["support"].load(None)


def test_hub_conversion_matches_the_local_files(data_dir):
    # The same rows through the Hub path give the same examples as the local reader.
    local = DATASETS["hate"].load(data_dir)
    frame = text_data.read_tweeteval(data_dir, "hate")
    hub = datasets.DatasetDict(
        train=datasets.Dataset.from_pandas(frame.iloc[:9000], preserve_index=False),
        validation=datasets.Dataset.from_pandas(frame.iloc[9000:10000], preserve_index=False),
        test=datasets.Dataset.from_pandas(frame.iloc[10000:], preserve_index=False),
    )
    via_hub = text_data.tweeteval_from_frame(text_data.tweeteval_from_hub(hub))
    assert via_hub.texts == local.texts and np.array_equal(via_hub.ids, local.ids)

    records = text_data.read_esconv(data_dir)
    hub = splits(train={"text": [json.dumps(record) for record in records]})
    via_hub = text_data.support_from_records(text_data.esconv_from_hub(hub))
    assert via_hub.texts == DATASETS["support"].load(data_dir).texts
    via_hub = text_data.support_dialogue_from_records(text_data.esconv_from_hub(hub))
    assert via_hub.texts == DATASETS["support-dialogue"].load(data_dir).texts

    frame = text_data.read_depression(data_dir)
    hub = splits(train={"clean_text": frame["text"].tolist(), "is_depression": frame["is_depressive"].tolist()})
    local = DATASETS["depression"].load(data_dir)
    via_hub = text_data.depression_from_frame(text_data.depression_from_hub(hub))
    assert via_hub.texts == local.texts and via_hub.labels.tolist() == local.labels.tolist()


def test_unreachable_hub_is_a_user_error(monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionError("offline\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", refuse)
    with pytest.raises(UserError, match=r"cannot load cardiffnlp/tweet_eval \(config hate\).*\(offline\).*MIABENCH"):
        DATASETS["hate"].load(None)


# --- missing data -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "first_file"),
    [
        ("distress", "goemotions/train.tsv"),
        ("stress", "dreaddit/dreaddit-train.csv"),
        ("selfharm", "sdcnl/training-set.csv"),
        ("support", "esconv/esconv_train.json"),
        ("toxicity", "tweeteval/offensive/train_text.txt"),
        ("hate", "tweeteval/hate/train_text.txt"),
        ("toxicity-davidson", "davidson/labeled_data.csv"),
        ("depression", "depression-reddit/depression_dataset_reddit_cleaned.csv"),
        ("support-dialogue", "esconv/esconv_train.json"),
    ],
)
def test_missing_file_is_a_user_error_naming_it(tmp_path, name, first_file):
    with pytest.raises(UserError) as caught:
        DATASETS[name].load(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / first_file) in message and "MIABENCH_DATA_DIR" in message
    assert "\n" not in message


def test_missing_later_split_is_named(tmp_path):
    folder = tmp_path / "goemotions"
    folder.mkdir()
    (folder / "train.tsv").write_text("some text\t25\teebbqej\n")
    with pytest.raises(UserError, match="goemotions/dev.tsv"):
        DATASETS["distress"].load(tmp_path)


def test_selfharm_without_a_data_dir_asks_for_one():
    with pytest.raises(UserError, match=r"MIABENCH_DATA_DIR.*sdcnl/training-set.csv"):
        DATASETS["selfharm"].load(None)


# --- metadata -----------------------------------------------------------------------------------------------


def test_every_dataset_cites_its_authors_by_key():
    assert set(DATASETS) == {
        "distress", "stress", "selfharm", "support", "toxicity", "hate", "toxicity-davidson", "depression",
        "support-dialogue",
    }  # fmt: skip
    first_authors = {
        "distress": ["Demszky"],
        "stress": ["Turcan"],
        "selfharm": ["Haque"],
        "support": ["Liu, Siyang"],
        "toxicity": ["Zampieri", "Barbieri"],
        "hate": ["Basile", "Barbieri"],
        "toxicity-davidson": ["Davidson"],
        "depression": ["infamouscoder", "kaggle.com/datasets/infamouscoder/depression-reddit-cleaned"],
        "support-dialogue": ["Liu, Siyang"],
    }
    for name, dataset in DATASETS.items():
        assert dataset.name == name and dataset.citation and dataset.license and dataset.source
        bibtex = "\n".join(citations.entry(key) for key in dataset.citation)  # every key is stored
        assert all(author in bibtex for author in first_authors[name])


def test_hub_copies_and_their_revisions():
    hubs = {name: dataset.hub for name, dataset in DATASETS.items()}
    assert hubs["selfharm"] is None and DATASETS["selfharm"].source == text_data.SDCNL_URL
    assert {name: hub.id for name, hub in hubs.items() if hub} == {
        "distress": "google-research-datasets/go_emotions",
        "stress": "andreagasparini/dreaddit",
        "support": "thu-coai/esconv",
        "toxicity": "cardiffnlp/tweet_eval",
        "hate": "cardiffnlp/tweet_eval",
        "toxicity-davidson": "tdavidson/hate_speech_offensive",
        "depression": "hugginglearners/reddit-depression-cleaned",
        "support-dialogue": "thu-coai/esconv",
    }
    assert (hubs["toxicity"].config, hubs["hate"].config, hubs["distress"].config) == (
        "offensive",
        "hate",
        "simplified",
    )
    assert {name: hub.revision for name, hub in hubs.items() if hub} == {
        "distress": "add492243ff905527e67aeb8b80c082af02207c3",
        "stress": None,  # unpinned: no commit could be verified offline
        "support": None,  # unpinned: no commit could be verified offline
        "toxicity": "b3a375baf0f409c77e6bc7aa35102b7b3534f8be",
        "hate": "b3a375baf0f409c77e6bc7aa35102b7b3534f8be",
        "toxicity-davidson": "adc5fb774614827695774f2dbe0ea8122f6a92b4",
        "depression": None,  # unpinned: no commit could be verified offline
        "support-dialogue": None,
    }


def test_binary_tasks_say_what_they_stand_in_for():
    # The tasks of the seed paper's shape (a binary "needs support" classifier) state the stand-in and its limits.
    for name in ("depression", "support-dialogue"):
        dataset = DATASETS[name]
        assert len(dataset.class_names) == 2 and dataset.flagged_class == 1
        assert "stands in for the paper's" in dataset.description and "needs support" in dataset.description
    assert "unclear" in DATASETS["depression"].license  # no license the data's provenance would back
    assert "tweet-like" in DATASETS["depression"].description  # why it is an easy task
    # The truncation the description states is the families' own.
    from miabench.tasks.text_models import FAMILIES

    assert (FAMILIES["minilm-head"].max_length, FAMILIES["minilm-finetune"].max_length) == (256, 128)
    assert "first 256 tokens" in DATASETS["support-dialogue"].description
    assert "minilm-finetune the first 128" in DATASETS["support-dialogue"].description
    assert "no benign chat" in DATASETS["support-dialogue"].description  # why severe, not support vs benign
