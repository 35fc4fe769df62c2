"""Every registered defense: it says what it is and whom to cite, declares its parameters, keeps heavy
dependencies out of the registry's import, and on a small real run changes training or outputs."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from miabench import citations
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
