"""The component registries: discovery, creation, presets, entry points, base classes, light imports."""

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import miabench.registry as registry_module
from miabench.api import Attack, Defense, ThreatModel
from miabench.errors import UserError
from miabench.params import param
from miabench.registry import Registry, attacks, defenses, tasks

HEAVY = ("opacus", "sklearn", "transformers", "datasets", "huggingface_hub", "matplotlib")


def test_create_converts_strings_to_field_types():
    lira = attacks.create("lira", {"online": "false", "fixed_variance": "true"})
    assert lira.online is False
    assert lira.fixed_variance is True
    assert lira.name == "lira"

    l2 = defenses.create("l2", {"weight_decay": "1e-3"})
    assert isinstance(l2.weight_decay, float)
    assert l2.weight_decay == pytest.approx(1e-3)

    # Optional fields (`int | None`, `float | None`) parse as their non-None type.
    location = tasks.create("location", {"epochs": "3", "lr": "1e-3", "test_size": "500"})
    assert location.epochs == 3 and isinstance(location.epochs, int)
    assert location.lr == pytest.approx(1e-3) and isinstance(location.lr, float)
    assert location.test_size == 500
    assert location.recipe().epochs == 3
    assert location.recipe().lr == pytest.approx(1e-3)


def test_create_without_params_uses_defaults():
    l2 = defenses.create("l2")
    assert l2.weight_decay == pytest.approx(5e-3)
    assert tasks.create("location").epochs is None


def test_presets_distinguish_named_variants():
    assert attacks.entry("lira-offline").preset == {"online": False}
    assert attacks.create("lira-offline").online is False
    assert attacks.create("lira").online is True
    assert attacks.create("lira-offline").threat_model().online is False
    assert attacks.create("lira").threat_model().online is True
    # An explicit parameter overrides the preset.
    assert attacks.create("lira-offline", {"online": "true"}).online is True


def test_builtins_are_listed():
    assert {"loss", "lira", "lira-offline"} <= set(attacks.names())
    assert {"none", "l2"} <= set(defenses.names())
    assert "location" in tasks.names()
    assert attacks.names() == sorted(attacks.names())


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UserError, match="did you mean 'lira'") as error:
        attacks.entry("lirra")
    assert "unknown attack 'lirra'" in str(error.value)
    with pytest.raises(UserError, match="unknown defense 'nope'"):
        defenses.create("nope")


@dataclass
class _Alpha(Attack):
    strength: float = param(1.0, "how strong", within="(0, inf)")

    def threat_model(self) -> ThreatModel:
        return ThreatModel(access="scores")

    def score(self, view):
        return np.zeros(len(view.labels))


@dataclass
class _Beta(_Alpha):
    strength: float = param(2.0, "how strong", within="(0, inf)")


def some_registry() -> Registry:
    return Registry("attack", Attack, "miabench.attacks", "some.group")


def test_registering_a_different_class_under_a_taken_name_fails():
    registry = some_registry()
    registry.register("alpha")(_Alpha)
    with pytest.raises(ValueError, match="'alpha'"):
        registry.register("alpha")(_Beta)
    # A different preset under the same name is a different entry too.
    with pytest.raises(ValueError, match="'alpha'"):
        registry.register("alpha", strength=3.0)(_Alpha)
    assert registry.entry("alpha").component_class is _Alpha


def test_registering_the_same_entry_twice_is_fine():
    registry = some_registry()
    registry.register("alpha", strength=3.0)(_Alpha)
    registry.register("alpha", strength=3.0)(_Alpha)
    assert registry.names() == ["alpha"]
    assert registry.create("alpha").strength == 3.0


class _FakeEntryPoint:
    def __init__(self, name, target):
        self.name = name
        self._target = target
        self.loads = 0

    def load(self):
        self.loads += 1
        return self._target


def _fake_entry_points(points, expected_group):
    def entry_points(*, group):
        return list(points) if group == expected_group else []

    return entry_points


def test_entry_point_components_are_listed_and_creatable(monkeypatch):
    point = _FakeEntryPoint("third-party", _Beta)
    monkeypatch.setattr(registry_module, "entry_points", _fake_entry_points([point], "some.group"))
    registry = some_registry()
    assert registry.names() == ["third-party"]
    created = registry.create("third-party", {"strength": "0.5"})
    assert isinstance(created, _Beta)
    assert created.strength == 0.5
    assert created.name == "third-party"
    assert point.loads == 1  # loaded once, on first read


def test_an_entry_points_distribution_and_version_are_its_package(monkeypatch):
    point = _FakeEntryPoint("third-party", _Beta)
    point.dist = SimpleNamespace(name="miabench-beta", version="1.2.3")
    monkeypatch.setattr(registry_module, "entry_points", _fake_entry_points([point], "some.group"))
    registry = some_registry()
    registry.register("alpha")(_Alpha)
    assert registry.package("third-party") == ("miabench-beta", "1.2.3") and registry.package("alpha") is None


def test_entry_point_clashing_with_a_registered_name_fails(monkeypatch):
    point = _FakeEntryPoint("alpha", _Beta)
    monkeypatch.setattr(registry_module, "entry_points", _fake_entry_points([point], "some.group"))
    registry = some_registry()
    registry.register("alpha")(_Alpha)
    with pytest.raises(ValueError, match="alpha"):
        registry.names()


def test_entry_point_of_an_already_registered_class_is_fine(monkeypatch):
    point = _FakeEntryPoint("alpha", _Alpha)
    monkeypatch.setattr(registry_module, "entry_points", _fake_entry_points([point], "some.group"))
    registry = some_registry()
    registry.register("alpha", strength=7.0)(_Alpha)
    assert registry.names() == ["alpha"]
    assert registry.create("alpha").strength == 7.0  # the decorator's preset is kept


def test_registration_refuses_a_class_of_the_wrong_kind():
    registry = some_registry()
    with pytest.raises(TypeError, match="subclassing miabench.api.Attack"):
        registry.register("not-an-attack")(dataclass(type("Plain", (), {"__annotations__": {}})))
    with pytest.raises(TypeError, match="miabench.api.Attack"):
        registry.register("a-defense")(defenses.entry("l2").component_class)
    assert issubclass(defenses.entry("l2").component_class, Defense)


def test_builtins_discover_themselves_from_their_folders():
    # Every module of attacks/, tasks/ and defenses/ is imported by its registry: no hand-kept list.
    for package in ("attacks", "tasks", "defenses"):
        init = (Path(__file__).resolve().parents[2] / package / "__init__.py").read_text()
        assert not re.search(r"^\s*(import|from) ", init, flags=re.MULTILINE)
    assert {"lira", "rmia", "blind"} <= set(attacks.names()) and {"location", "cifar10"} <= set(tasks.names())


def test_reading_the_registries_imports_no_heavy_dependency():
    code = (
        "import sys; from miabench.registry import attacks, defenses, tasks; "
        "[r.names() for r in (attacks, defenses, tasks)]; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "[]"


def test_listing_describing_and_scoring_import_no_heavy_dependency(tmp_path):
    members = np.zeros((4, 20), dtype=bool)
    members[0::2, :10] = members[1::2, 10:] = True
    logits = np.random.default_rng(0).normal(size=(4, 20, 1, 2)).astype(np.float32)
    np.savez(tmp_path / "signals.npz", logits=logits, labels=np.zeros(20, dtype=np.int64), members=members)
    score = ["score", "--signals", str(tmp_path / "signals.npz"), "--attack", "loss,lira", "--out", str(tmp_path / "o")]
    code = (
        "import sys, contextlib, io; from miabench.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert [main(['list']), main(['list', 'dpsgd']), main({score!r})] == [0, 0, 0]\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "[]"
