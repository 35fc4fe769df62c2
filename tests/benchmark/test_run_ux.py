"""The run as users meet it: sweep folders, warnings, progress, --help, and 'miabench vulnerable'."""

import argparse
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from miabench import cli, engine, spec
from miabench.cli import main
from miabench.errors import UserError
from miabench.vulnerability import most_vulnerable


def test_default_sweep_folder_names_k_the_seed_and_the_varied_values():
    out = spec.default_sweep_out("location", ["dpsgd"], {"epsilon": "1,4", "epochs": "3"}, 16, 0)
    assert str(out) == "miabench-results/location-dpsgd-sweep-epsilon=1,4-K16-seed0"
    other = spec.default_sweep_out("location", ["dpsgd"], {"epsilon": "8,16"}, 16, 0)
    assert other != out and spec.default_sweep_out("location", ["dpsgd"], {"epsilon": "1,4"}, 32, 0) != out


def test_a_sweep_without_out_writes_under_its_own_name_with_a_summary_per_setting(
    capsys, data_dir, tmp_path, monkeypatch
):
    from miabench import runner

    monkeypatch.chdir(tmp_path)
    printed_before = {}  # what stdout held when each setting started training
    real_run = runner.run

    def run(chosen, label=""):
        printed_before[label] = capsys.readouterr()
        return real_run(chosen, label)

    monkeypatch.setattr(runner, "run", run)
    code = main(["run", "--defense", "l2", "--param", "weight_decay=0.5,0.001", "--param", "epochs=2",
                 "--models", "4", "--attack", "loss", "--data-dir", str(data_dir), "--cache-dir", "cache"])  # fmt: skip
    printed_before["end"] = capsys.readouterr()
    assert code == 0, printed_before
    root = Path("miabench-results") / "location-l2-sweep-weight_decay=0.5,0.001-K4-seed0"
    settings = ["none", "l2-weight_decay=0.5", "l2-weight_decay=0.001"]
    for setting, after in zip(settings, [*settings[1:], "end"]):
        assert (root / setting / "summary.csv").exists() and (root / setting / "roc.png").exists()
        out, err = printed_before[after]  # printed while this setting ran, before the next began
        assert f"[{setting}] train models 1..4 of 4" in err  # the bar names the setting it trains
        assert f"## {setting}\n" in out and f"records written to {root / setting}/" in out
    assert (root / "frontier.png").exists() and "privacy–utility frontier" in printed_before["end"].out


def test_few_references_warn_once_per_attack_that_wants_more(data_dir, tmp_path):
    import miabench

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        miabench.evaluate(attacks=["loss", "lira"], models=4, params={"epochs": 1}, data_dir=data_dir,
                          cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
        miabench.evaluate(attacks=["lira"], models=10, params={"epochs": 1}, data_dir=data_dir,
                          cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
    (line,) = [str(w.message) for w in caught if "reference models" in str(w.message)]  # none for K = 10
    assert "'lira' runs with only 2 reference models per target, under the 8 below which" in line
    assert "raise --models to 10 or more" in line


def test_scoring_a_file_with_few_references_warns_too(tmp_path):
    import miabench
    from miabench.plan import MembershipPlan

    members = MembershipPlan.balanced(4, 40, 0).members
    rng = np.random.default_rng(0)
    signals = {"logits": rng.normal(size=(4, 40, 1, 3)).astype(np.float32), "labels": rng.integers(0, 3, 40),
               "members": members}  # fmt: skip
    with pytest.warns(UserWarning, match="'lira-offline' runs with only 2 reference models"):
        miabench.score(signals, ["lira-offline"])


def test_a_parameter_no_selected_component_takes_names_those_that_would():
    with pytest.raises(UserError, match="taken by --defense dpsgd") as error:
        spec.make({"epsilon": 1}, attacks=["loss"])
    assert "\n" not in str(error.value)
    with pytest.raises(UserError, match="taken by --attack lira:"):
        spec.make({"lira.online": False}, attacks=["loss"])
    with pytest.raises(UserError, match="did you mean 'epochs'"):  # a typo is still a near miss
        spec.make({"epochz": 1}, attacks=["loss"])


def test_progress_goes_to_stderr_and_is_off_without_progress(capsys, data_dir, tmp_path):
    import miabench

    fields = {"attacks": ["loss", "confidence"], "models": 4, "params": {"epochs": 1}, "data_dir": data_dir}
    miabench.evaluate(**fields, cache_dir=tmp_path / "cache")
    out, err = capsys.readouterr()
    assert "train models 1..4 of 4" in err and "model-epoch" in err
    assert "attack loss (1 of 2)…" in err and "attack confidence (2 of 2)…" in err and "attack" not in out
    miabench.evaluate(**fields, cache_dir=tmp_path / "other-cache", progress=False)
    assert capsys.readouterr() == ("", "")


def test_the_bar_names_the_models_in_training_counting_from_one():
    from miabench.harness import models_label

    assert models_label([2], 16) == "model 3 of 16"
    assert models_label([0, 1, 2, 3], 4) == "models 1..4 of 4"


def test_sequential_training_shows_one_bar_for_the_whole_run(capsys, data_dir, tmp_path):
    import miabench

    miabench.evaluate(attacks=["loss"], models=4, params={"epochs": 2}, strategy="sequential", data_dir=data_dir,
                      cache_dir=tmp_path / "cache")  # fmt: skip
    err = capsys.readouterr().err.replace("\r", "\n")
    assert "train model 4 of 4" in err and "8/8 [" in err  # model-epochs over all K, not a bar per model
    assert "train models 0..0" not in err and "0/2 [" not in err


def test_a_resumed_training_says_from_which_epoch(capsys, tmp_path, toy_setup):
    setup = toy_setup()
    checkpoint = tmp_path / "group.ckpt"

    def train(epochs):
        recipe = setup.recipe.__class__(**{**setup.recipe.__dict__, "epochs": epochs})
        models = engine.make_group([engine.initialise(setup.task.make_model, 0, k) for k in range(4)], "stacked")
        engine.train(models, setup.population.x, setup.population.y, setup.plan.members, list(range(4)), recipe, 0,
                     checkpoint=checkpoint, progress=True)  # fmt: skip

    train(2)
    capsys.readouterr()
    train(3)
    assert "resuming from epoch 2 of 3" in capsys.readouterr().err
    torch.manual_seed(0)


def subparsers(parser: argparse.ArgumentParser):
    """``parser`` and every parser below it, with their command words."""
    yield "miabench", parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                for words, grandchild in subparsers(child):
                    yield f"{name} {words}".replace(" miabench", "").strip(), grandchild


def test_every_option_of_every_command_has_help():
    seen = set()
    for words, parser in subparsers(cli.parser()):
        seen.add(words.split(" ")[0] if words != "miabench" else words)
        for action in parser._actions:
            label = "/".join(action.option_strings) or action.dest
            assert action.help and action.help != argparse.SUPPRESS, f"miabench {words}: {label} has no help"
    assert {"run", "score", "plan", "cite", "vulnerable", "upgrade", "submit", "list", "leaderboard"} <= seen


def test_every_command_and_leaderboard_action_is_described_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["leaderboard", "--help"])
    text = capsys.readouterr().out
    for action in ("validate", "build", "verify", "push", "pull"):
        (line,) = [line for line in text.splitlines() if line.split()[:1] == [action]]
        assert len(line.split()) > 2, line  # the action and words describing it
    for _, parser in subparsers(cli.parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(choice.help for choice in action._choices_actions)
                assert len(action._choices_actions) == len(action.choices)


def test_vulnerable_breaks_ties_by_margin_then_example(capsys, tmp_path):
    members = np.array([[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1]], bool)
    scores = np.array([[5, 9, 5, 5, 0, 0, 0, 0], [0, 0, 0, 0, 5, 5, 5, 5]], float)  # all caught once; 1 by most
    np.savez(tmp_path / "scores.npz", scores=scores, members=members)
    assert list(most_vulnerable(tmp_path, alpha=0.0, top=8)["example"]) == [1, 0, 2, 3, 4, 5, 6, 7]
    assert main(["vulnerable", str(tmp_path), "--fpr", "0", "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "then margin (larger first), then example (smaller first)" in lines[0]
    columns = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert columns == ["example", "times_member", "times_caught", "margin", "vulnerability"]
    legend = lines[-len(columns) :]  # one line per column, under the table
    assert [line.split()[0] for line in legend] == columns
    assert "its column in scores.npz" in legend[0] and lines[4].split("|")[-2].strip() == "1.000"


def test_vulnerable_explains_the_id_and_label_columns(capsys, tmp_path):
    members = np.array([[1, 0], [0, 1]], bool)
    np.savez(tmp_path / "scores.npz", scores=np.eye(2), members=members, ids=np.array([70, 71]), labels=[3, 4])
    assert main(["vulnerable", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert [cell.strip() for cell in out.splitlines()[2].strip("|").split("|")][:3] == ["example", "label", "id"]
    assert "\nid             its stable id: its position in the task's source dataset" in out
    assert "\nlabel          its class" in out


def test_vulnerable_given_a_run_folder_names_its_attack_folders(capsys, tmp_path):
    for name in ("loss", "lira"):
        (tmp_path / name).mkdir()
        np.savez(tmp_path / name / "scores.npz", scores=np.zeros((2, 2)), members=np.eye(2, dtype=bool))
    code = main(["vulnerable", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "is a run folder" in err
    assert str(tmp_path / "lira") in err and str(tmp_path / "loss") in err
