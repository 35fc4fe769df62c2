"""Sweeps over parameter lists and the privacy–utility frontier they write."""

import json

import pytest

from miabench import sweep
from miabench.cli import main
from miabench.errors import UserError


def test_lists_expand_in_order_first_key_slowest():
    settings = sweep.expand({"weight_decay": "0.1,0.01", "epochs": "3", "lr": "1e-3,1e-2"})
    assert settings == [
        {"weight_decay": "0.1", "epochs": "3", "lr": "1e-3"},
        {"weight_decay": "0.1", "epochs": "3", "lr": "1e-2"},
        {"weight_decay": "0.01", "epochs": "3", "lr": "1e-3"},
        {"weight_decay": "0.01", "epochs": "3", "lr": "1e-2"},
    ]
    assert sweep.is_sweep(["l2"], {"a": "1,2"}) and sweep.is_sweep(["l2", "none"], {})
    assert not sweep.is_sweep(["l2"], {"a": "1"})


def test_an_empty_list_item_is_a_one_line_error():
    with pytest.raises(UserError, match="empty value") as error:
        sweep.expand({"weight_decay": "0.1,,0.01"})
    assert "\n" not in str(error.value)


def test_the_reference_run_leaves_out_the_defense_params():
    assert sweep.undefended_params("l2", {"weight_decay": "0.1", "epochs": "3"}) == {"epochs": "3"}


def test_a_sweep_writes_each_setting_and_the_frontier(capsys, data_dir, tmp_path):
    out = tmp_path / "sweep"
    code = main(
        ["run", "--defense", "l2", "--param", "weight_decay=0.5,0.001", "--param", "epochs=3", "--models", "4",
         "--attack", "loss,lira", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "cache"),
         "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert code == 0
    assert "privacy–utility frontier" in capsys.readouterr().out
    for setting in ("none", "l2-weight_decay=0.5", "l2-weight_decay=0.001"):
        assert (out / setting / "lira" / "result.json").exists()
    points = json.loads((out / "frontier.json").read_text())
    assert [p["setting"] for p in points] == ["none", "l2-weight_decay=0.5", "l2-weight_decay=0.001"]
    assert all(p["attack"] in ("loss", "lira") and 0 < p["test_accuracy"] <= 1 for p in points)
    record = json.loads((out / "l2-weight_decay=0.5" / "lira" / "result.json").read_text())
    assert record["defense"]["params"] == {"weight_decay": 0.5}
    assert (out / "frontier.png").stat().st_size > 1000 and "<svg" in (out / "frontier.svg").read_text()
    table = (out / "frontier.md").read_text()
    assert "| setting" in table and all(f"| {p['auc']:.3f} |" in table for p in points)


def test_several_defenses_make_one_frontier(data_dir, tmp_path):
    runs = sweep.run(
        tmp_path / "out", ["l2", "none"], {"epochs": "2"}, task="location", attacks=["loss"], models=4,
        data_dir=data_dir, cache_dir=tmp_path / "cache", progress=False,
    )  # fmt: skip
    assert [name for name, _ in runs] == ["none", "l2"]
    assert runs[1][1][0]["defense"]["name"] == "l2"
