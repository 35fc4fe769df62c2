"""One citation store: every BibTeX entry once, parsed by a real BibTeX parser, cited by key."""

import bibtexparser
import pytest

from miabench import citations
from miabench.registry import attacks, defenses, tasks


def test_every_stored_entry_parses_with_its_fields():
    text = citations.STORE.read_text(encoding="utf-8")
    parsed = bibtexparser.loads(text)
    assert len(parsed.entries) == len(citations.entries()) > 30
    for entry in parsed.entries:
        assert {"title", "author", "year"} <= set(entry), entry["ID"]
        assert entry["year"].isdigit(), entry["ID"]
        assert text.count("{" + entry["ID"] + ",") == 1  # each key once
    assert [entry["ID"] for entry in parsed.entries] == list(citations.entries())


def test_every_component_cites_stored_keys():
    cited = [(f"task '{name}'", tasks.entry(name).component_class.metadata.citation) for name in tasks.names()]
    for registry in (attacks, defenses):
        cited += [(f"{registry.kind} '{name}'", registry.entry(name).component_class.citation)
                  for name in registry.names()]  # fmt: skip
    for who, keys in cited:
        assert isinstance(keys, tuple) and all(key in citations.entries() for key in keys), (who, keys)
    assert all(keys for who, keys in cited if not who.startswith("defense 'none'")), "every component cites a paper"


def test_add_extends_the_store_and_refuses_a_second_entry_under_a_key():
    assert citations.add("@misc{plugin2026,\n  title = {A plugin},\n  author = {Someone},\n  year = {2026}\n}") == [
        "plugin2026"
    ]
    assert "plugin2026" in citations.bibtex(["plugin2026"])
    with pytest.raises(ValueError, match="already stored"):
        citations.add("@misc{plugin2026,\n  title = {Another}\n}")
    del citations.entries()["plugin2026"]
