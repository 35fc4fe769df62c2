"""What a run is: RunSpec's checks, routing, config files, commands, and the spec a record states."""

from pathlib import Path

import pytest

import miabench
from miabench import spec
from miabench.cli import main
from miabench.errors import UserError
from miabench.spec import RunSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_defaults_are_the_default_run():
    default = RunSpec()
    assert (default.task, default.attacks, default.defense, default.seed) == (
        "location",
        ("loss", "lira", "lira-offline"),
        "none",
        0,
    )
    assert default.params == {} and default.out is None and default.track == "auto"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"seed": -1}, "run setting 'seed' (--seed): -1 is not in [0, inf)"),
        ({"seed": 1.5}, "run setting 'seed' (--seed): 1.5 is not an integer"),
        ({"models": 3}, "3 is odd"),
        ({"models": 0}, "run setting 'models' (--models): 0 is not in [2, inf)"),
        ({"models_per_group": 0}, "run setting 'models_per_group' (--models-per-group): 0 is not in [1, inf)"),
        ({"track": "tpu"}, "'tpu' is not one of auto, cpu, gpu"),
        ({"attacks": []}, "run setting 'attacks': none given"),
        ({"params": {"lira": {"online": False}}, "attacks": ("loss",)}, "'lira' is not a component of this run"),
    ],
)
def test_a_bad_setting_is_one_line_before_anything_runs(fields, message):
    with pytest.raises(UserError) as error:
        RunSpec(**fields)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_make_routes_unqualified_and_qualified_parameters():
    made = spec.make({"epochs": "3", "lira.fixed_variance": "true", "weight_decay": 0.1}, defense="l2")
    assert made.params == {"location": {"epochs": "3"}, "lira": {"fixed_variance": "true"}, "l2": {"weight_decay": 0.1}}
    with pytest.raises(UserError, match="--family: task 'location' has one model family"):
        spec.make(family="ngram-mlp")
    assert spec.make(task="distress", family="ngram-mlp").params == {"distress": {"family": "ngram-mlp"}}


def test_config_files_read_into_specs(tmp_path):
    fields = spec.read_config(EXAMPLES / "quickstart.toml")
    assert spec.make(fields.pop("params"), **fields) == RunSpec(models=16, track="cpu")
    sweep = spec.read_config(EXAMPLES / "dpsgd-sweep.toml")
    assert sweep["defense"] == "dpsgd" and sweep["params"] == {
        "dpsgd.epsilon": [1.0, 4.0, 8.0],
        "dpsgd.max_grad_norm": 1.0,
    }
    (tmp_path / "bad.toml").write_text('task = "location"\nmodel = 4\n')
    with pytest.raises(UserError, match="unknown setting 'model': did you mean 'models'"):
        spec.read_config(tmp_path / "bad.toml")
    (tmp_path / "broken.toml").write_text("task = \n")
    with pytest.raises(UserError, match="is not valid TOML"):
        spec.read_config(tmp_path / "broken.toml")


def test_the_example_sweep_is_a_list_of_run_specs():
    config = spec.read_config(EXAMPLES / "dpsgd-sweep.toml")
    plan = spec.sweep([config.pop("defense")], config.pop("params"), config.pop("out"), **config)
    assert [name for name, _ in plan.runs] == ["none", "dpsgd-dpsgd.epsilon=1.0", "dpsgd-dpsgd.epsilon=4.0",
                                               "dpsgd-dpsgd.epsilon=8.0"]  # fmt: skip
    assert [run.params.get("dpsgd", {}).get("epsilon") for _, run in plan.runs] == [None, 1.0, 4.0, 8.0]


def test_run_with_the_quickstart_config(capsys, data_dir, tmp_path):
    out = tmp_path / "out"
    args = ["run", "--config", EXAMPLES / "quickstart.toml", "--models", "4", "--param", "epochs=2"]
    args += ["--data-dir", data_dir, "--cache-dir", tmp_path / "cache", "--out", out, "--quiet"]
    assert main([str(arg) for arg in args]) == 0  # flags override the file's models
    assert "| lira-offline " in capsys.readouterr().out
    records = miabench.load(out)
    assert [record.attack.name for record in records] == ["lira", "lira-offline", "loss"]
    assert {record.models for record in records} == {4} and records[0].track.name == "cpu"


def test_a_record_states_the_spec_and_the_command_that_remake_it(location_run):
    record = location_run["lira"]
    remade = RunSpec.from_record(record)
    assert (remade.task, remade.attacks, remade.defense, remade.models, remade.seed, remade.track) == (
        "location", ("lira",), "none", 16, 0, "cpu")  # fmt: skip
    assert record.scores_file.command == "miabench run --task location --attack lira --models 16 --seed 0 --track cpu"
    changed = RunSpec(attacks=("lira",), params={"lira": {"fixed_variance": True}, "location": {"epochs": 3}})
    assert changed.command().endswith("--param location.epochs=3 --param lira.fixed_variance=True")
