"""The matched-utility ranking: each defense's best privacy among its settings within 1, 3, 5 points of none."""

import json

import pandas as pd

from miabench.leaderboard import matched


def _setting(defense: str, params: dict, accuracy: float, tpr: float, rank=1, auc=0.7, **changes) -> dict:
    row = {"track": "cpu", "task": "location", "model_family": "mlp", "setting": json.dumps([defense, params]),
           "rank": rank, "defense": defense, "test_accuracy": accuracy, "attack": "lira", "tpr_1": tpr,
           "tpr_1_lo": tpr - 1, "tpr_1_hi": tpr + 1, "auc": auc}  # fmt: skip
    return row | changes


SETTINGS = pd.DataFrame([
    _setting("none", {}, 62.0, 30.0),
    _setting("dpsgd", {"epsilon": 1}, 40.0, 2.0),  # the most private, far outside every budget
    _setting("dpsgd", {"epsilon": 8}, 58.0, 6.0),  # within 5 points only
    _setting("l2", {"weight_decay": 0.001}, 61.5, 25.0),  # within 1
    _setting("l2", {"weight_decay": 0.01}, 59.5, 12.0),  # within 3
    _setting("dropout", {"p": 0.5}, 61.8, 20.0, rank=pd.NA),  # unranked (lacks an attack): never eligible
    _setting("none", {}, 50.0, 40.0, task="adult"),
])  # fmt: skip


def test_each_defense_is_represented_by_its_most_private_setting_within_the_budget():
    ranking = matched.table(SETTINGS).query("task == 'location'")
    by_budget = {b: list(zip(g["defense"], g["params"], g["tpr_1"], g["rank"])) for b, g in ranking.groupby("budget")}
    assert by_budget[1.0] == [("l2", "weight_decay=0.001", 25.0, 1), ("none", "default", 30.0, 2)]
    assert by_budget[3.0] == [("l2", "weight_decay=0.01", 12.0, 1), ("none", "default", 30.0, 2)]
    assert by_budget[5.0] == [("dpsgd", "epsilon=8", 6.0, 1), ("l2", "weight_decay=0.01", 12.0, 2),
                              ("none", "default", 30.0, 3)]  # fmt: skip
    five = ranking[ranking["budget"] == 5.0].set_index("defense")
    assert five.loc["dpsgd", "tpr_1_lo"] == 5.0 and five.loc["dpsgd", "tpr_1_hi"] == 7.0  # the CI comes along
    assert five.loc["dpsgd", "accuracy_lost"] == 4.0 and five.loc["l2", "settings"] == 2
    assert "dropout" not in set(ranking["defense"])


def test_ties_share_a_rank_and_tasks_without_defenses_show_nothing():
    tied = pd.concat([SETTINGS, pd.DataFrame([_setting("top-k", {"k": 1}, 62.0, 25.0)])])
    one = matched.table(tied).query("task == 'location' and budget == 1.0")
    assert list(zip(one["defense"], one["rank"])) == [("l2", 1), ("top-k", 1), ("none", 3)]
    text = matched.markdown(matched.table(SETTINGS), level=2)
    assert text.count("### ") == 1 and text.startswith(f"### cpu / location: {matched.TITLE}")  # adult: none only
    assert "| within (points)" in text and "12.00 [11.00, 13.00]" in text and "weight_decay=0.01" in text
    assert matched.table(SETTINGS.iloc[0:0]).empty
