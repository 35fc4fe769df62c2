"""``miabench cite``: miabench's entry first, then the named components' citations, each key once."""

import collections
import re

import pytest

from miabench import citations
from miabench.errors import UserError
from miabench.leaderboard.cite import bibtex
from miabench.registry import attacks, defenses, tasks

MIABENCH_BIBTEX = citations.entry("miabench")


def _keys(text: str) -> list[str]:
    return [key for key, _ in citations.split(text)]


def _assert_valid_bibtex(text: str) -> None:
    """Every non-comment block is an entry starting with ``@`` whose braces balance and never go negative."""
    for block in text.strip().split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("%")]
        if not lines:
            continue
        body = "\n".join(lines)
        assert body.startswith("@"), block
        depth = 0
        for char in body:
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0, block
        assert depth == 0, block
    assert len(citations.split(text)) == len(re.findall(r"^@", text, re.MULTILINE))


def test_benchmark_entry_comes_first():
    for text in (bibtex(), bibtex(task="location"), bibtex(attack="lira", defense="dpsgd")):
        assert text.startswith(MIABENCH_BIBTEX)
        assert _keys(text)[0] == "miabench"
        assert text.endswith("}\n")


def test_task_location_cites_shokri():
    text = bibtex(task="location")
    assert _keys(text) == ["miabench", "shokri2017membership"]
    assert "Shokri, Reza" in text
    _assert_valid_bibtex(text)


def test_attack_lira_cites_carlini():
    text = bibtex(attack="lira")
    assert "carlini2022membership" in _keys(text)
    assert "Carlini" in text
    _assert_valid_bibtex(text)


def test_defense_dpsgd_cites_both_entries_of_its_citation():
    text = bibtex(defense="dpsgd")
    assert _keys(text) == ["miabench", "abadi2016deep", "yousefpour2021opacus"]
    assert "Abadi" in text
    _assert_valid_bibtex(text)


def test_order_is_benchmark_task_attack_defense():
    keys = _keys(bibtex(task="adult", attack="lira", defense="dpsgd"))
    assert keys == ["miabench", "becker1996adult", "carlini2022membership", "abadi2016deep", "yousefpour2021opacus"]


def test_a_key_cited_twice_appears_once():
    text = bibtex(task="location", attack="shadow")  # both cite Shokri et al. 2017
    assert _keys(text) == ["miabench", "shokri2017membership"]
    assert text.count("@inproceedings{shokri2017membership") == 1


def test_explicitly_named_component_without_citation_gets_a_comment():
    text = bibtex(task="location", defense="none")
    assert "% defense 'none': no citation recorded" in text
    assert _keys(text) == ["miabench", "shokri2017membership"]
    assert "no citation recorded" not in bibtex()  # unnamed ones are skipped silently


@pytest.mark.parametrize("kwargs", [{"task": "nope"}, {"attack": "lira-onlin"}, {"defense": "dp-sgd"}])
def test_unknown_name_raises_the_registry_user_error(kwargs):
    (kind,) = kwargs
    with pytest.raises(UserError, match=f"unknown {kind} '{kwargs[kind]}'") as info:
        bibtex(**kwargs)
    assert "\n" not in str(info.value)


def test_no_arguments_cites_every_registered_component_once():
    text = bibtex()
    keys = _keys(text)
    assert not [key for key, count in collections.Counter(key.lower() for key in keys).items() if count > 1]
    assert keys[0] == "miabench" and keys[1:] == sorted(keys[1:], key=str.lower)
    expected = set()
    for name in tasks.names():
        expected |= set(tasks.entry(name).component_class.metadata.citation)
    for registry in (attacks, defenses):
        for name in registry.names():
            expected |= set(registry.entry(name).component_class.citation)
    assert expected <= set(keys)
    assert len(expected) > 20  # the registries really were read
    _assert_valid_bibtex(text)
