"""Parameters declared once: reading strings as the declared types, constraints, routing ``key=value``."""

import dataclasses
import math
from dataclasses import dataclass

import pytest

from miabench.api import Recipe
from miabench.errors import UserError
from miabench.params import Interval, ParameterError, check, declarations, param, parse_assignments, route
from miabench.registry import attacks, defenses, tasks


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
        (defenses, "l2", {"weight_decay": "abc"}, "a number"),
        (attacks, "lira", {"online": "maybe"}, "true or false"),
        (tasks, "location", {"epochs": "1.5"}, "an integer"),
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


@dataclass
class Knobs:
    rate: float = param(0.5, "a share", within="(0, 1]")
    count: int = param(3, "how many", within="[1, inf)")
    mode: str = param("fast", "how", choices=("fast", "slow"))
    limit: float | None = param(None, "optional cap", within="[0, inf]")
    flag: bool = param(False, "a switch")

    def __post_init__(self):
        check(self)


def test_intervals_parse_and_contain():
    half_open = Interval.parse("(0, 1]")
    assert 1 in half_open and 0.5 in half_open and 0 not in half_open
    assert str(half_open) == "(0, 1]" and str(Interval.parse("[1, inf)")) == "[1, inf)"
    assert math.inf in Interval.parse("[0, inf]") and math.inf not in Interval.parse("[0, inf)")
    with pytest.raises(ValueError):
        Interval.parse("0..1")


def test_declarations_carry_help_constraints_and_optionality():
    declared = declarations(Knobs)
    assert declared["rate"].help == "a share" and declared["rate"].constraint == "in (0, 1]"
    assert declared["mode"].constraint == "one of fast, slow"
    assert declared["limit"].optional and not declared["rate"].optional
    assert declared["limit"].kind is float and declared["count"].kind is int


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rate": 0.0}, "'rate': 0.0 is not in (0, 1]; give e.g. rate=0.5"),
        ({"rate": math.nan}, "'rate': nan is not a finite number"),
        ({"rate": math.inf}, "'rate': inf is not a finite number"),
        ({"rate": None}, "'rate': none is not allowed; give a value in (0, 1], e.g. rate=0.5"),
        ({"rate": "0.5"}, "'rate': '0.5' is not a number"),
        ({"count": 0}, "'count': 0 is not in [1, inf)"),
        ({"count": 2.0}, "'count': 2.0 is not an integer"),
        ({"count": True}, "'count': True is not an integer"),
        ({"mode": "medium"}, "'mode': 'medium' is not one of fast, slow"),
        ({"flag": 1}, "'flag': 1 is not true or false"),
    ],
)
def test_check_refuses_each_violation_in_one_line(values, message):
    with pytest.raises(ParameterError) as error:
        Knobs(**values)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_check_accepts_what_is_declared_and_types_ints_as_floats():
    knobs = Knobs(rate=1, limit=math.inf)  # an interval closed at inf admits it
    assert knobs.rate == 1.0 and isinstance(knobs.rate, float) and knobs.limit == math.inf
    assert Knobs(limit=None).limit is None


def test_none_is_read_only_for_optional_parameters():
    assert tasks.create("location", {"epochs": "none"}).epochs is None
    with pytest.raises(UserError, match="'auxiliary_fraction': none is not allowed"):
        tasks.create("location", {"auxiliary_fraction": "none"})


@pytest.mark.parametrize(
    "changes",
    [
        {"epochs": 0},
        {"batch_size": -5},
        {"batch_size": 0},
        {"lr": math.nan},
        {"lr": -1.0},
        {"weight_decay": math.inf},
        {"optimizer": "lamb"},
        {"schedule": "linear"},
        {"translate": -1},
    ],
)
def test_the_recipe_is_checked_like_a_component(changes):
    recipe = Recipe(epochs=3, batch_size=16, lr=1e-3)
    with pytest.raises(ParameterError):
        dataclasses.replace(recipe, **changes)


@pytest.mark.parametrize(
    ("registry", "name", "params", "message"),
    [
        (tasks, "location", {"epochs": "0"}, "task 'location' parameter 'epochs': 0 is not in [1, inf)"),
        (tasks, "location", {"batch_size": "-5"}, "task 'location' parameter 'batch_size': -5 is not in [1, inf)"),
        (tasks, "location", {"lr": "nan"}, "task 'location' parameter 'lr': nan is not a finite number"),
        (defenses, "l2", {"weight_decay": "-1"}, "defense 'l2' parameter 'weight_decay'"),
        (attacks, "rmia", {"gamma": "0"}, "attack 'rmia' parameter 'gamma': 0.0 is not in (0, inf)"),
    ],
)
def test_components_refuse_bad_values_naming_themselves(registry, name, params, message):
    with pytest.raises(UserError) as error:
        registry.create(name, params)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_every_parameter_of_every_component_has_help():
    for registry in (tasks, attacks, defenses):
        for name in registry.names():
            for declared in declarations(registry.entry(name).component_class).values():
                assert declared.help, f"{registry.kind} '{name}' parameter '{declared.name}' has no help"
