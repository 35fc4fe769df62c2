"""Sweeps over parameter lists and the privacy–utility frontier they write."""

import json

import pytest

import miabench
from miabench import spec, sweep
from miabench.cli import main
from miabench.errors import UserError


def test_lists_expand_in_order_first_key_slowest():
    settings = spec.expand({"weight_decay": "0.1,0.01", "epochs": "3", "lr": "1e-3,1e-2"})
    assert settings == [
        {"weight_decay": "0.1", "epochs": "3", "lr": "1e-3"},
        {"weight_decay": "0.1", "epochs": "3", "lr": "1e-2"},
        {"weight_decay": "0.01", "epochs": "3", "lr": "1e-3"},
        {"weight_decay": "0.01", "epochs": "3", "lr": "1e-2"},
    ]
    assert spec.expand({"epsilon": [1, 4], "epochs": 3}) == [{"epsilon": 1, "epochs": 3}, {"epsilon": 4, "epochs": 3}]
    assert (
        spec.is_sweep(["l2"], {"a": "1,2"})
        and spec.is_sweep(["l2", "none"], {})
        and spec.is_sweep(["l2"], {"a": [1, 2]})
    )
    assert not spec.is_sweep(["l2"], {"a": "1"})


def test_an_empty_list_item_is_a_one_line_error():
    with pytest.raises(UserError, match="empty value") as error:
        spec.expand({"weight_decay": "0.1,,0.01"})
    assert "\n" not in str(error.value)


def test_a_sweep_is_a_list_of_run_specs_with_the_undefended_reference_first(tmp_path):
    plan = spec.sweep(["l2"], {"weight_decay": "0.1,0.2", "epochs": "3"}, tmp_path, models=4)
    names = [name for name, _ in plan.runs]
    assert names == ["none", "l2-weight_decay=0.1", "l2-weight_decay=0.2"]
    reference, first, _ = (run for _, run in plan.runs)
    assert reference.defense == "none" and reference.params == {"location": {"epochs": "3"}}  # no defense params
    assert first.params == {"location": {"epochs": "3"}, "l2": {"weight_decay": "0.1"}}
    assert first.out == tmp_path / "l2-weight_decay=0.1" and first.models == 4


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
    (record,) = miabench.load(out / "l2-weight_decay=0.5" / "lira")
    assert record.defense.params == {"weight_decay": 0.5}
    assert (out / "frontier.png").stat().st_size > 1000 and "<svg" in (out / "frontier.svg").read_text()
    table = (out / "frontier.md").read_text()
    assert "| setting" in table and all(f"| {p['auc']:.3f} |" in table for p in points)


def test_several_defenses_make_one_frontier(data_dir, tmp_path):
    plan = spec.sweep(["l2", "none"], {"epochs": "2"}, tmp_path / "out", task="location", attacks=["loss"], models=4,
                      data_dir=data_dir, cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
    runs = sweep.run(plan, tmp_path / "out")
    assert [name for name, _ in runs] == ["none", "l2"]
    assert runs[1][1][0].defense.name == "l2"
