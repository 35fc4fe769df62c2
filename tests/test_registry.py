"""The component registries and typed parameters: creation, presets, entry points, routing, errors."""

from dataclasses import dataclass

import pytest

import miabench.registry as registry_module
from miabench.errors import UserError
from miabench.params import parse_assignments, route
from miabench.registry import Registry, attacks, defenses, tasks


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
class _Alpha:
    strength: float = 1.0


@dataclass
class _Beta:
    strength: float = 2.0


def test_registering_a_different_class_under_a_taken_name_fails():
    registry = Registry("attack", "miabench.attacks", "some.group")
    registry.register("alpha")(_Alpha)
    with pytest.raises(ValueError, match="'alpha'"):
        registry.register("alpha")(_Beta)
    # A different preset under the same name is a different entry too.
    with pytest.raises(ValueError, match="'alpha'"):
        registry.register("alpha", strength=3.0)(_Alpha)
    assert registry.entry("alpha").component_class is _Alpha


def test_registering_the_same_entry_twice_is_fine():
    registry = Registry("attack", "miabench.attacks", "some.group")
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
    registry = Registry("attack", "miabench.attacks", "some.group")
    assert registry.names() == ["third-party"]
    created = registry.create("third-party", {"strength": "0.5"})
    assert isinstance(created, _Beta)
    assert created.strength == 0.5
    assert created.name == "third-party"
    assert point.loads == 1  # loaded once, on first read


def test_entry_point_clashing_with_a_registered_name_fails(monkeypatch):
    point = _FakeEntryPoint("alpha", _Beta)
    monkeypatch.setattr(registry_module, "entry_points", _fake_entry_points([point], "some.group"))
    registry = Registry("attack", "miabench.attacks", "some.group")
    registry.register("alpha")(_Alpha)
    with pytest.raises(ValueError, match="alpha"):
        registry.names()


def test_entry_point_of_an_already_registered_class_is_fine(monkeypatch):
    point = _FakeEntryPoint("alpha", _Alpha)
    monkeypatch.setattr(registry_module, "entry_points", _fake_entry_points([point], "some.group"))
    registry = Registry("attack", "miabench.attacks", "some.group")
    registry.register("alpha", strength=7.0)(_Alpha)
    assert registry.names() == ["alpha"]
    assert registry.create("alpha").strength == 7.0  # the decorator's preset is kept


def test_unknown_parameter_names_it_and_lists_the_accepted_ones():
    with pytest.raises(UserError) as error:
        attacks.create("lira", {"onlin": "false"})
    message = str(error.value)
    assert "'onlin'" in message
    assert "did you mean 'online'" in message
    assert "online" in message and "fixed_variance" in message
    assert "attack 'lira'" in message


def test_component_without_parameters_says_so():
    with pytest.raises(UserError, match="no parameters"):
        attacks.create("loss", {"online": "true"})


@pytest.mark.parametrize(
    "registry, name, params, type_name",
    [
        (defenses, "l2", {"weight_decay": "abc"}, "float"),
        (attacks, "lira", {"online": "maybe"}, "bool"),
        (tasks, "location", {"epochs": "1.5"}, "int"),
    ],
)
def test_unreadable_value_is_a_user_error(registry, name, params, type_name):
    ((key, value),) = params.items()
    with pytest.raises(UserError) as error:
        registry.create(name, params)
    message = str(error.value)
    assert repr(value) in message
    assert f"parameter '{key}'" in message
    assert type_name in message


LIRA_CLASSES = {
    "lira": attacks.entry("lira").component_class,
    "lira-offline": attacks.entry("lira-offline").component_class,
}


def test_route_qualified_key_reaches_only_its_component():
    routed = route({"lira.online": "false"}, LIRA_CLASSES)
    assert routed == {"lira": {"online": "false"}, "lira-offline": {}}


def test_route_unqualified_key_reaches_every_component_declaring_it():
    routed = route({"online": "false"}, LIRA_CLASSES)
    assert routed == {"lira": {"online": "false"}, "lira-offline": {"online": "false"}}


def test_route_only_sends_a_key_to_components_that_declare_it():
    classes = {**LIRA_CLASSES, "l2": defenses.entry("l2").component_class}
    routed = route({"weight_decay": "0.1", "online": "true"}, classes)
    assert routed == {"lira": {"online": "true"}, "lira-offline": {"online": "true"}, "l2": {"weight_decay": "0.1"}}


def test_route_key_nobody_declares_is_a_user_error():
    with pytest.raises(UserError, match="no selected component takes parameter 'onlin'") as error:
        route({"onlin": "false"}, LIRA_CLASSES)
    assert "did you mean 'online'" in str(error.value)
    with pytest.raises(UserError, match="'lira' has no parameter 'weight_decay'"):
        route({"lira.weight_decay": "0.1"}, LIRA_CLASSES)


def test_parse_assignments():
    assert parse_assignments(["a=1", "lira.online = false", "empty="]) == {
        "a": "1",
        "lira.online": "false",
        "empty": "",
    }
    assert parse_assignments(["expr=a=b"]) == {"expr": "a=b"}  # only the first '=' separates


@pytest.mark.parametrize("item", ["novalue", "=1", " =x"])
def test_parse_assignments_rejects_malformed_items(item):
    with pytest.raises(UserError, match="key=value"):
        parse_assignments([item])
