"""Every registered attack: finite, deterministic scores on any valid cube; what it needs and cites;
parameters refused in one line before anything trains; `--attack all` runs them."""

import math

import numpy as np
import pytest

from miabench import citations, harness, scoring
from miabench.cli import main
from miabench.errors import UserError
from miabench.params import declarations
from miabench.registry import attacks, tasks

PARAMETERS = [(name, key) for name in attacks.names() for key in declarations(attacks.entry(name).component_class)]


@pytest.fixture
def three_class_cube(synthetic_cube):
    logits, labels, plan = synthetic_cube(models=6, examples=240, auxiliary=40)
    rng = np.random.default_rng(1)
    wide = rng.normal(size=(6, 240, 2, 3)).astype(np.float32)  # two views, three classes
    wide[..., 1] += logits[..., 0, 1][..., None]
    return wide, (labels + rng.integers(0, 3, 240)) % 3, plan


@pytest.mark.parametrize("name", attacks.names())
def test_every_attack_gives_finite_deterministic_scores(name, three_class_cube):
    logits, labels, plan = three_class_cube
    first = scoring.leave_one_out(attacks.create(name), logits, labels, plan)
    again = scoring.leave_one_out(attacks.create(name), logits, labels, plan)
    assert first.scores.shape == (6, 240)
    assert np.isfinite(first.scores).all()
    assert np.array_equal(first.scores, again.scores)


def test_threat_models():
    # (access, min_references, online, auxiliary, query budget) of each attack with its defaults.
    expected = {
        "blind": ("label", 1, False, False, 0),
        "boundary-targeted": ("scores", 2, False, False, 0),  # over reference, selecting on the references
        "confidence": ("scores", 0, False, False, 0),
        "entropy": ("scores", 0, False, False, 0),
        "gap": ("label", 0, False, False, 0),
        "label-only": ("label", 0, False, False, 100_000),
        "lira": ("scores", 2, True, False, 0),
        "lira-offline": ("scores", 2, False, False, 0),
        "logit-probe": ("scores", 1, False, False, 0),
        "loss": ("scores", 0, False, False, 0),
        "modified-entropy": ("scores", 0, False, False, 0),
        "partner": ("scores", 0, False, False, 0),  # and the pair partner's outputs (partner=True)
        "population": ("scores", 0, False, True, 0),
        "reference": ("scores", 2, False, False, 0),
        "attack-r": ("scores", 2, False, False, 0),
        "rmia": ("scores", 1, False, True, 0),
        "rmia-online": ("scores", 2, True, True, 0),
        "shadow": ("scores", 1, False, False, 0),
    }
    threats = {name: attacks.create(name).threat_model() for name in attacks.names()}
    got = {n: (t.access, t.min_references, t.online, t.auxiliary, int(t.queries)) for n, t in threats.items()}
    assert got == expected


@pytest.mark.parametrize("name", attacks.names())
def test_every_attack_describes_itself_and_cites_stored_papers(name):
    attack = attacks.create(name)
    assert attack.description.strip() and "\n" not in attack.description
    assert isinstance(attack.citation, tuple) and attack.citation
    for key in attack.citation:
        assert key in citations.entries(), f"attack '{name}' cites '{key}', which citations.bib does not hold"


def bad_values(declaration):
    """(value, what the refusal says) for each way a command-line value can break the declaration."""
    kind, within = declaration.kind, declaration.within
    if kind is bool:
        yield "maybe", "cannot read 'maybe' as true or false"
    if kind in (int, float):
        yield "abc", "cannot read 'abc' as"
        if not declaration.optional:
            yield "none", "none is not allowed"
    if kind is float:
        yield "nan", "is not a finite number"
    if declaration.choices is not None:
        yield "foo", "'foo' is not one of"
    if within is not None:
        if math.isfinite(within.low):
            yield str(kind(within.low - 1 if within.low_closed else within.low)), f"is not in {within}"
        if math.isfinite(within.high):
            yield str(kind(within.high + 1 if within.high_closed else within.high)), f"is not in {within}"
        elif kind is float and not within.admits_infinity:
            yield "inf", "is not a finite number"


# A parameter whose constraint is not a type, an interval or a set of choices: the attack checks it itself.
OWN_CHECKS = {
    ("boundary-targeted", "base"): [("boundary-targeted", "it must be another attack")],
    ("boundary-targeted", "selector"): [("model:x", "is not one of references, target, model:<i>")],
}


@pytest.mark.parametrize(("name", "key"), PARAMETERS, ids=[f"{n}.{k}" for n, k in PARAMETERS])
def test_every_declared_parameter_is_enforced_by_create(name, key):
    declaration = declarations(attacks.entry(name).component_class)[key]
    cases = [*bad_values(declaration), *OWN_CHECKS.get((name, key), [])]
    assert cases, f"attack '{name}' parameter '{key}' has no constraint this test knows how to break"
    for value, words in cases:
        with pytest.raises(UserError) as refused:
            attacks.create(name, {key: value})
        message = str(refused.value)
        assert message.startswith(f"attack '{name}' parameter '{key}': "), (value, message)
        assert words in message and "\n" not in message, (value, message)
    # The fix the message suggests ("give e.g. key=value") is accepted.
    key_given, _, suggested = declaration.example().partition("=")
    assert key_given == key
    attacks.create(name, {key: suggested})


REFUSED = [
    ("rmia", "gamma", "0", "0.0 is not in (0, inf); give e.g. gamma=1.0"),
    ("rmia", "gamma", "inf", "inf is not a finite number; give e.g. gamma=1.0"),
    ("rmia", "offline_a", "1.5", "1.5 is not in [0, 1]; give e.g. offline_a=0.0"),
    ("boundary-targeted", "fraction", "0", "0.0 is not in (0, 1]; give e.g. fraction=0.1"),
    (
        "boundary-targeted",
        "selector",
        "foo",
        (
            "'foo' is not one of references, target, model:<i> (i a model index from 0); give e.g. selector=references "
            "or selector=model:0"
        ),
    ),
    ("boundary-targeted", "base", "boundary-targeted", "it must be another attack; give e.g. base=reference"),
    ("shadow", "max_rows", "1", "1 is not in [2, inf); give e.g. max_rows=5000"),
    ("label-only", "budget", "-1", "-1 is not in [0, inf); give e.g. budget=100000"),
    ("lira", "online", "maybe", "cannot read 'maybe' as true or false; give e.g. online=True"),
]


@pytest.mark.parametrize(("name", "key", "value", "detail"), REFUSED, ids=[f"{n}.{k}={v}" for n, k, v, _ in REFUSED])
def test_a_bad_attack_parameter_exits_2_in_one_line_before_anything_loads(
    name, key, value, detail, capsys, monkeypatch, tmp_path
):
    expected = f"attack '{name}' parameter '{key}': {detail}"
    with pytest.raises(UserError) as refused:
        attacks.create(name, {key: value})
    assert str(refused.value) == expected
    # The same refusal from the command line, before the data loads or a model trains.
    work = []
    monkeypatch.setattr(harness, "train_group", lambda *args, **kwargs: work.append("trained"))
    monkeypatch.setattr(tasks.entry("location").component_class, "load", lambda *args, **kwargs: work.append("load"))
    code = main(
        ["run", "--attack", name, "--models", "4", "--param", f"{name}.{key}={value}",
         "--data-dir", str(tmp_path / "no-data"), "--cache-dir", str(tmp_path / "cache"),
         "--out", str(tmp_path / "out"), "--quiet"]
    )  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == f"miabench: error: {expected}\n"
    assert work == []
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()


def test_attack_all_runs_every_supported_attack(capsys, data_dir, tmp_path):
    code = main(
        ["run", "--attack", "all", "--models", "4", "--param", "epochs=3", "--data-dir", str(data_dir),
         "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--quiet"]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    for name in attacks.names():
        assert f"| {name} " in printed
        assert (tmp_path / "out" / name / "result.json").exists()


def test_attack_all_skips_what_the_setting_cannot_run(capsys, data_dir, tmp_path):
    with pytest.warns(UserWarning) as warned:
        code = main(
            ["run", "--attack", "all", "--models", "2", "--param", "epochs=1", "--param", "auxiliary_fraction=0",
             "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"),
             "--quiet"]
        )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "| loss " in printed and "| lira " not in printed and "| rmia " not in printed
    skipped = [str(w.message) for w in warned]
    assert "skipped: attack 'lira' needs at least 2 reference model(s)" in "\n".join(skipped)
    assert "skipped: attack 'population' needs auxiliary examples" in "\n".join(skipped)


def test_on_real_models_every_attack_is_deterministic(location_runs):
    first, second, root = location_runs
    assert [r.attack.name for r in first] == [r.attack.name for r in second]
    for a, b in zip(first, second):
        name = a.attack.name
        assert (a.metrics, a.per_target, a.metrics_by_subgroup) == (b.metrics, b.per_target, b.metrics_by_subgroup)
        with np.load(root / "basic-1" / name / "scores.npz") as x, np.load(root / "basic-2" / name / "scores.npz") as y:
            assert np.array_equal(x["scores"], y["scores"]), name
