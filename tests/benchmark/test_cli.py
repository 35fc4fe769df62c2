"""The ``miabench`` command: one-line user errors (exit 2), listing, scoring a file, and a cache that survives errors."""

import hashlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

import miabench
from miabench.cli import main
from miabench.plan import MembershipPlan
from miabench.registry import attacks
from miabench.signals import Signals


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(root):
    """Every file under ``root`` (relative path -> sha256); empty when ``root`` does not exist."""
    return {str(path.relative_to(root)): _sha256(path) for path in sorted(root.rglob("*")) if path.is_file()}


def _fails(capsys, argv, *words):
    """Run ``argv``; check it is a user error reported on exactly one stderr line holding ``words``."""
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.startswith("miabench: error: ")
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in out + err
    for word in words:
        assert word in err, err
    return err


@pytest.fixture
def run_args(tmp_path):
    """A tiny ``run`` that finds no data (so nothing is ever downloaded) and caches under tmp_path."""
    (tmp_path / "cache").mkdir()
    (tmp_path / "no-data").mkdir()

    def args(*extra):
        return [
            "run",
            "--models",
            "4",
            "--param",
            "epochs=1",
            "--cache-dir",
            tmp_path / "cache",
            "--out",
            tmp_path / "out",
            "--data-dir",
            tmp_path / "no-data",
            "--quiet",
            *extra,
        ]

    yield args
    # No failing run may train, cache or write records.
    assert _files(tmp_path / "cache") == {}
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--task", "locaton"], ["unknown task 'locaton'", "did you mean 'location'"]),
        (["--attack", "loss,lirra"], ["unknown attack 'lirra'", "did you mean 'lira'"]),
        (["--defense", "nonee"], ["unknown defense 'nonee'", "did you mean 'none'"]),
        (["--param", "onlin=false"], ["no selected component takes parameter 'onlin'", "did you mean 'online'"]),
        (["--param", "lira.weight_decay=0.1"], ["'lira' has no parameter 'weight_decay'"]),
        (["--param", "novalue"], ["--param 'novalue'", "key=value"]),
        (["--defense", "l2", "--param", "weight_decay=abc"], ["'abc'", "weight_decay", "a number"]),
        (["--models", "3"], ["'models' (--models): 3 is odd", "even number"]),
        (["--models", "0"], ["'models' (--models): 0 is not in [2, inf)"]),
        (["--seed", "-1"], ["'seed' (--seed): -1 is not in [0, inf)"]),
        (["--param", "epochs=0"], ["task 'location' parameter 'epochs': 0 is not in [1, inf)"]),
        (["--param", "batch_size=-5"], ["parameter 'batch_size': -5 is not in [1, inf)"]),
        (["--param", "batch_size=0"], ["parameter 'batch_size': 0 is not in [1, inf)"]),
        (["--param", "lr=nan"], ["parameter 'lr': nan is not a finite number"]),
        (["--param", "auxiliary_fraction=none"], ["'auxiliary_fraction': none is not allowed"]),
        (["--defense", "dpsgd", "--param", "epsilon=inf"], ["defense 'dpsgd' parameter 'epsilon'", "finite"]),
        (["--strategy", "pipelined"], ["'strategy' (--strategy)", "stacked, grouped, sequential"]),
        (["--models", "2", "--attack", "lira"], ["attack 'lira' needs at least", "reference model(s) but K = 2"]),
        (["--attack", ","], ["--attack names nothing", "comma-separated names"]),
        (["--defense", " , "], ["--defense names nothing", "comma-separated names"]),
        (["--param", "weight_decay=1e-3"], ["takes parameter 'weight_decay'", "it is taken by --defense l2"]),
    ],
    ids=[
        "unknown-task",
        "unknown-attack",
        "unknown-defense",
        "param-nobody-takes",
        "qualified-param-not-declared",
        "malformed-param",
        "bad-param-value",
        "odd-models",
        "zero-models",
        "negative-seed",
        "zero-epochs",
        "negative-batch",
        "zero-batch",
        "nan-lr",
        "none-for-a-required-param",
        "infinite-epsilon",
        "unknown-strategy",
        "online-lira-with-two-models",
        "empty-attack-list",
        "empty-defense-list",
        "param-of-an-unselected-defense",
    ],
)
def test_run_user_errors(capsys, run_args, extra, words):
    _fails(capsys, run_args(*extra), *words)


def test_run_missing_dataset(capsys, run_args, tmp_path):
    _fails(capsys, run_args("--task", "location"), "missing data file", str(tmp_path / "no-data"), "--data-dir")


def test_list_prints_every_kind_with_each_parameter_its_default_and_help(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for heading in ("tasks ", "attacks ", "defenses "):
        assert any(line.startswith(heading) for line in lines)
    for name in ("location", "lira", "lira-offline", "loss", "l2", "none"):
        assert any(line.startswith(f"{name} ") for line in lines), name
    assert "  online=False " in out  # lira-offline's preset is shown as its default
    assert "  weight_decay=0.005 " in out
    assert "  epsilon=8.0 " in out
    assert max(len(line) for line in lines) <= 100  # fits a 100-column terminal


def test_list_one_kind(capsys):
    assert main(["list", "attacks"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("attacks ") and "\nlira " in out
    assert "\nlocation " not in out and "\nl2 " not in out


def test_list_one_component_in_full(capsys):
    assert main(["list", "lira"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("lira (attack, miabench.attacks.lira.LiRA)")
    assert "threat model" in out and "scores, 2+ references, online" in out
    assert "carlini2022membership" in out and "fixed_variance=False" in out
    assert main(["list", "location"]) == 0
    out = capsys.readouterr().out
    assert "shokri2017membership" in out and "test_size=1000" in out and "mlp-256-128" in out
    _fails(capsys, ["list", "lirra"], "no task, attack or defense is named 'lirra'", "did you mean 'lira'")


def test_version_and_a_closed_pipe(capsys):
    import miabench

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"miabench {miabench.__version__}"
    # `miabench list | head -1`: the reader leaves early; no traceback, exit status 0.
    listing = subprocess.Popen([sys.executable, "-m", "miabench.cli", "list"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)  # fmt: skip
    listing.stdout.close()  # before the child, still importing, writes anything
    assert listing.wait(timeout=60) == 0 and b"Traceback" not in listing.stderr.read()


def _signals_file(path, models=8, examples=200, seed=0, boost=2.0):
    """A synthetic cube in which members get ``boost`` on their true class: an easy membership signal."""
    rng = np.random.default_rng(seed)
    members = MembershipPlan.balanced(models, examples, seed).members
    labels = rng.integers(0, 3, size=examples).astype(np.int64)
    logits = rng.normal(size=(models, examples, 1, 3)).astype(np.float32)
    logits[:, np.arange(examples), 0, labels] += boost * members
    test_labels = np.array([0, 1, 2, 0], dtype=np.int64)
    test_logits = np.eye(3, dtype=np.float32)[[0, 1, 2, 1]][None].repeat(models, 0)  # 3 of 4 right
    Signals(logits, labels, members, test_logits=test_logits, test_labels=test_labels).save(path)
    return members


@pytest.mark.parametrize("attack", ["loss", "lira", "lira-offline"])
def test_score_a_signals_file(capsys, tmp_path, attack):
    members = _signals_file(tmp_path / "signals.npz")
    out = tmp_path / "out"
    assert main(["score", "--signals", str(tmp_path / "signals.npz"), "--attack", attack, "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert f"| {attack} " in stdout
    assert str(out / "result.json") in stdout

    (record,) = miabench.load(out / "result.json")
    assert record.schema_version == 2
    assert record.attack.name == attack
    assert (record.models, record.examples, record.views, record.classes) == (8, 200, 1, 3)
    assert record.metrics.auc.mean > 0.6
    assert len(record.per_target) == 8
    assert record.plan_hash == MembershipPlan(members).hash
    assert record.task.data_fingerprint == _sha256(tmp_path / "signals.npz")
    assert record.utility.test_accuracy.mean == pytest.approx(0.75)
    assert record.scores_file.sha256 == _sha256(out / "scores.npz")

    with np.load(out / "scores.npz") as scores:
        assert scores["scores"].shape == (8, 200)
        assert np.isfinite(scores["scores"]).all()
        np.testing.assert_array_equal(scores["members"], members)


def test_score_no_signal_gives_chance_auc(tmp_path, capsys):
    _signals_file(tmp_path / "signals.npz", boost=0.0)
    out = tmp_path / "out"
    assert main(["score", "--signals", str(tmp_path / "signals.npz"), "--attack", "loss", "--out", str(out)]) == 0
    (record,) = miabench.load(out / "result.json")
    assert 0.35 < record.metrics.auc.mean < 0.65


def _int_members(path):
    members = _signals_file(path)
    with np.load(path) as data:
        arrays = dict(data)
    np.savez(path, **{**arrays, "members": members.astype(np.int64)})


def _flat_logits(path):
    _signals_file(path)
    with np.load(path) as data:
        arrays = dict(data)
    np.savez(path, **{**arrays, "logits": arrays["logits"][..., 0]})


def _no_members(path):
    _signals_file(path)
    with np.load(path) as data:
        arrays = dict(data)
    del arrays["members"]
    np.savez(path, **arrays)


def _not_npz(path):
    path.write_text("not an archive\n")


@pytest.mark.parametrize(
    "write, words",
    [
        (_int_members, ["members has dtype int64", "bool"]),
        (_flat_logits, ["logits has shape", "4 axes"]),
        (_no_members, ["missing array(s) members"]),
        (_not_npz, ["not a .npz file"]),
    ],
    ids=["int-members", "3d-logits", "no-members", "not-npz"],
)
def test_score_malformed_signals(capsys, tmp_path, write, words):
    write(tmp_path / "signals.npz")
    argv = ["score", "--signals", tmp_path / "signals.npz", "--attack", "loss", "--out", tmp_path / "out"]
    _fails(capsys, argv, str(tmp_path / "signals.npz"), *words)
    assert not (tmp_path / "out").exists()


def test_score_missing_file(capsys, tmp_path):
    argv = ["score", "--signals", tmp_path / "nope.npz", "--attack", "loss", "--out", tmp_path / "out"]
    _fails(capsys, argv, str(tmp_path / "nope.npz"), "does not exist")
    assert not (tmp_path / "out").exists()


def test_score_user_errors(capsys, tmp_path):
    _signals_file(tmp_path / "two.npz", models=2)
    score = ["score", "--signals", tmp_path / "two.npz", "--out", tmp_path / "out"]
    _fails(capsys, [*score, "--attack", "lirra"], "unknown attack 'lirra'", "did you mean 'lira'")
    _fails(capsys, [*score, "--attack", "lira"], "attack 'lira' needs at least", "reference model(s) but K = 2")
    _fails(capsys, [*score, "--attack", "lira", "--param", "onlin=false"], "did you mean 'online'")
    _fails(capsys, [*score, "--attack", "lira", "--param", "online=perhaps"], "'perhaps'", "true or false")
    _fails(capsys, [*score, "--attack", ","], "--attack names nothing")
    assert not (tmp_path / "out").exists()


def _leaking_file(path, models=8, examples=200):
    """A signals file whose every example is in exactly K/2 models: the references give memberships away."""
    _signals_file(path, models, examples)
    with np.load(path) as data:
        arrays = dict(data)
    members = np.random.default_rng(1).random((models, examples)).argsort(axis=0) < models // 2
    np.savez(path, **{**arrays, "members": members})


def test_score_refuses_a_leaking_file_and_says_how_to_plan(capsys, tmp_path):
    _leaking_file(tmp_path / "leaky.npz")
    argv = ["score", "--signals", tmp_path / "leaky.npz", "--attack", "loss", "--out", tmp_path / "out"]
    _fails(capsys, argv, "target 0's members are in 3.00", "gives its memberships away",
           "miabench plan --models 8 --examples 200 --seed 0 --out plan.npz")  # fmt: skip
    assert not (tmp_path / "out").exists()
    _signals_file(tmp_path / "paired.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a warning
        argv = ["score", "--signals", tmp_path / "paired.npz", "--attack", "loss", "--out", tmp_path / "o"]
        assert main([str(arg) for arg in argv]) == 0


def test_plan_writes_the_paired_design_that_score_accepts(capsys, tmp_path):
    assert main(["plan", "--models", "6", "--examples", "90", "--auxiliary", "9", "--seed", "4", "--out",
                 str(tmp_path / "plan.npz")]) == 0  # fmt: skip
    assert str(tmp_path / "plan.npz") in capsys.readouterr().out
    with np.load(tmp_path / "plan.npz") as plan:
        members = plan["members"]
        assert [int(plan[key]) for key in ("models", "examples", "seed", "auxiliary")] == [6, 90, 4, 9]
    assert members.dtype == bool and members.shape == (6, 90)
    assert MembershipPlan(members).paired and MembershipPlan(members).leak is None
    assert int((~members.any(axis=0)).sum()) == 9
    np.testing.assert_array_equal(members, MembershipPlan.balanced(6, 90, 4, 9).members)
    logits = np.random.default_rng(0).normal(size=(6, 90, 1, 2)).astype(np.float32)
    Signals(logits, np.zeros(90, dtype=np.int64), members).save(tmp_path / "trained.npz")
    argv = ["score", "--signals", tmp_path / "trained.npz", "--attack", "lira", "--out", tmp_path / "out"]
    assert main([str(arg) for arg in argv]) == 0
    _fails(capsys, ["plan", "--models", "5", "--examples", "90", "--seed", "0", "--out", tmp_path / "odd.npz"],
           "--models 5", "even number")  # fmt: skip
    assert not (tmp_path / "odd.npz").exists()


def test_score_all_runs_every_attack_the_file_supports_and_names_the_others(capsys, tmp_path):
    _signals_file(tmp_path / "signals.npz")  # no auxiliary examples, no models to query
    out = tmp_path / "out"
    with pytest.warns(UserWarning) as warned:
        assert main(["score", "--signals", str(tmp_path / "signals.npz"), "--attack", "all", "--out", str(out)]) == 0
    lines = [str(warning.message) for warning in warned if "reference models per target" not in str(warning.message)]
    assert all(line.startswith("skipped: attack '") and "\n" not in line for line in lines)
    skipped = {line.split("'")[1] for line in lines}
    assert {"population", "rmia", "rmia-online", "label-only"} <= skipped
    ran = {path.parent.name for path in out.glob("*/result.json")}
    assert {"loss", "lira", "lira-offline", "shadow", "boundary-targeted"} <= ran
    assert ran | skipped == set(attacks.names()) and not ran & skipped
    stdout = capsys.readouterr().out
    assert all(str(out / name / "result.json") in stdout for name in ran)


def test_score_refuses_a_named_attack_the_file_cannot_serve(capsys, tmp_path):
    _signals_file(tmp_path / "signals.npz")
    score = ["score", "--signals", tmp_path / "signals.npz", "--out", tmp_path / "out"]
    _fails(capsys, [*score, "--attack", "loss,population"], "attack 'population' needs auxiliary examples")
    _fails(capsys, [*score, "--attack", "label-only"], "attack 'label-only' queries the targets", "miabench run")
    assert not (tmp_path / "out").exists()


def test_failing_call_loses_nothing_cached(capsys, tmp_path, data_dir):
    cache, out = tmp_path / "cache", tmp_path / "out"
    good = ["run", "--task", "location", "--models", "4", "--param", "epochs=1"]
    good += ["--cache-dir", str(cache), "--out", str(out), "--quiet", "--data-dir", str(data_dir)]

    assert main(good) == 0
    first = capsys.readouterr().out
    assert "signals: trained in" in first
    cached = _files(cache)
    assert any(name.endswith("signals.npz") for name in cached)
    assert any(name.endswith("meta.json") for name in cached)
    assert not any("/work/" in name for name in cached)  # a finished entry keeps no partial work

    _fails(capsys, [*good, "--param", "nonsense=1"], "nonsense")
    _fails(capsys, [*good, "--models", "3"], "(--models): 3 is odd")
    assert _files(cache) == cached

    assert main(good) == 0
    again = capsys.readouterr().out
    assert "signals: from cache" in again
    assert _files(cache) == cached
    (record,) = miabench.load(out / "loss" / "result.json")
    assert record.timings.cache_hit is True
    assert record.models == 4
