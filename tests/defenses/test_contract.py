"""Every registered defense: it says what it is and whom to cite, declares its parameters, keeps heavy
dependencies out of the registry's import, and on a small real run changes training or outputs."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from miabench import citations
from miabench.errors import UserError
from miabench.params import declarations
from miabench.registry import defenses

NAMES = defenses.names()
SMALL = {"epochs": 3}
# Relaxed losses act only once a model's loss falls below alpha: within 3 epochs that needs a higher one.
EARLY = {"relaxloss": {"alpha": 2.5}}
HEAVY = ("opacus", "sklearn", "transformers", "datasets", "huggingface_hub", "matplotlib")


@pytest.mark.parametrize("name", NAMES)
def test_each_defense_says_what_it_is_and_cites_stored_papers(name):
    defense = defenses.entry(name).component_class
    assert defense.description and "\n" not in defense.description
    assert isinstance(defense.citation, tuple) and defense.citation or name == "none"
    assert set(defense.citation) <= set(citations.entries()), f"{name} cites a key missing from citations.bib"


@pytest.mark.parametrize("name", NAMES)
def test_each_parameter_is_declared_with_help(name):
    defense = defenses.entry(name).component_class
    for declaration in declarations(defense).values():
        assert declaration.help, f"{name}.{declaration.name} has no help text"
        if declaration.kind in (int, float):
            assert declaration.within is not None, f"{name}.{declaration.name} declares no range"
    # A serving defense trains the models of 'none'; the others key the cache by their own parameters.
    config = defenses.create(name).training_config()
    assert config["name"] == ("none" if defense.serving_only else name)


def test_reading_the_registry_imports_no_heavy_dependency():
    code = "import sys; from miabench.registry import defenses; defenses.names(); "
    code += f"print([m for m in {HEAVY!r} if m in sys.modules])"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


@pytest.fixture(scope="module")
def undefended(run_defense, tmp_path_factory):
    root = tmp_path_factory.mktemp("contract")
    return root, run_defense("none", root, SMALL)


@pytest.mark.parametrize("name", [name for name in NAMES if name != "none"])
def test_each_defense_changes_what_the_attacker_sees(undefended, run_defense, name):
    root, plain = undefended
    run = run_defense(name, root, SMALL | EARLY.get(name, {}))
    record, defense = run["loss"], defenses.entry(name).component_class
    assert record.defense.name == name and record.citation.defense == list(defense.citation)
    assert record.defense.params == dataclasses.asdict(defenses.create(name, EARLY.get(name, {})))
    assert not np.allclose(run.scores(), plain.scores()), f"{name} changed neither training nor outputs"
    # Serving-only defenses serve the undefended models: the cache trains them once.
    assert record.timings.cache_hit == defense.serving_only
    assert 0 <= record.utility.test_accuracy.mean <= 1
    assert isinstance(record.defense.facts, dict)


BAD_PARAMETERS = [
    ("advreg", {"weight": "-1"}),
    ("advreg", {"attack_steps": "0"}),
    ("advreg", {"attack_lr": "0"}),
    ("crl", {"temperature": "-1"}),
    ("crl", {"center_momentum": "0"}),
    ("crl", {"center_momentum": "1.5"}),
    ("crl", {"center_weight": "0"}),
    ("dpsgd", {"epsilon": "0"}),
    ("dpsgd", {"epsilon": "-1"}),
    ("dpsgd", {"epsilon": "inf"}),
    ("dpsgd", {"epsilon": "nan"}),
    ("dpsgd", {"delta": "1.5"}),
    ("dpsgd", {"delta": "0"}),
    ("dpsgd", {"max_grad_norm": "0"}),
    ("dropout", {"p": "0"}),
    ("dropout", {"p": "1"}),
    ("dropout", {"p": "nan"}),
    ("early-stopping", {"patience": "0"}),
    ("early-stopping", {"validation": "0"}),
    ("early-stopping", {"validation": "1"}),
    ("label-smoothing", {"epsilon": "0"}),
    ("label-smoothing", {"epsilon": "1.5"}),
    ("memguard", {"epsilon": "0"}),
    ("memguard", {"epsilon": "3"}),
    ("memguard", {"epsilon": "nan"}),
    ("outlier-aware", {"strategy": "forget"}),
    ("outlier-aware", {"fraction": "0"}),
    ("outlier-aware", {"fraction": "1"}),
    ("outlier-aware", {"weight": "1"}),
    ("outlier-aware", {"noise": "0"}),
    ("relaxloss", {"alpha": "0"}),
    ("relaxloss", {"alpha": "inf"}),
    ("selena", {"submodels": "1"}),
    ("selena", {"excluded": "0"}),
    ("selena", {"submodels": "4", "excluded": "4"}),
    ("selena", {"submodels": "4", "excluded": "5"}),
    ("output-noise", {"sigma": "0"}),
    ("output-noise", {"sigma": "inf"}),
    ("rounding", {"decimals": "-1"}),
    ("rounding", {"decimals": "0.5"}),
    ("top-k", {"k": "0"}),
    ("top-k", {"k": "true"}),
]


@pytest.mark.parametrize(
    ("name", "params"), BAD_PARAMETERS, ids=[f"{n}-{'-'.join(p)}={'-'.join(p.values())}" for n, p in BAD_PARAMETERS]
)
def test_a_bad_parameter_is_refused_in_one_line_naming_the_defense_and_the_parameter(name, params):
    with pytest.raises(UserError) as error:
        defenses.create(name, params)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"defense '{name}' parameter '")
    assert any(f"'{key}'" in message for key in params)


@pytest.mark.parametrize(("name", "margin"), [("advreg", 0.03), ("selena", 0.1)])
def test_an_adversarial_defense_changes_training_keeps_utility_and_leaks_less(runs_of, name, margin):
    plain, defended = runs_of("adversarial", "none"), runs_of("adversarial", name)
    assert defended["loss"].config_hash != plain["loss"].config_hash
    assert not np.allclose(defended.scores(), plain.scores())
    accuracy = defended["lira"].utility.test_accuracy.mean
    assert accuracy > 0.4  # chance is 1/30; undefended reaches about 0.63
    assert accuracy > plain["lira"].utility.test_accuracy.mean - 0.1
    for attack in ("loss", "lira"):
        before, after = plain[attack].metrics.auc.mean, defended[attack].metrics.auc.mean
        assert after < before - margin, f"{name}: {attack} AUC {after:.3f} vs {before:.3f} undefended"


# Regularizers at their defaults on Location-30 (K = 4, 12 epochs): the margin by which LiRA's AUC falls below the
# undefended models' (None: no claim; RelaxLoss and label smoothing at their defaults do not lower it).
REGULARIZERS = [
    ("crl", 0.03),
    ("dropout", 0.03),
    ("early-stopping", 0.0),
    ("relaxloss", None),
    ("label-smoothing", None),
]


@pytest.mark.parametrize(("name", "margin"), REGULARIZERS)
def test_a_regularizer_trains_stacked_changes_the_models_and_keeps_useful_utility(runs_of, name, margin):
    defense = defenses.create(name)
    assert not type(defense).serving_only and type(defense).stacks and defense.training_config()["name"] == name
    run, plain = runs_of("regularizers", name), runs_of("regularizers", "none")
    assert not np.allclose(run.signals.logits, plain.signals.logits), f"{name} trained the same models"
    assert run["lira"].utility.test_accuracy.mean > 9 / 30  # far above chance (1/30), against ~0.63 undefended
    if margin is not None:
        assert run["lira"].metrics.auc.mean < plain["lira"].metrics.auc.mean - margin
