"""Helpers shared by the leaderboard's tests."""

import hashlib
import json

import pytest

from miabench.record import Entry


def _variant(entry: Entry, salt=None, edit=None, **changes) -> Entry:
    """A copy with ``changes`` (dotted paths), then ``edit(data)``, and another config hash (of ``salt``
    and the changes)."""
    data = entry.model_dump()
    data["config_hash"] = hashlib.sha256(json.dumps([salt, changes], sort_keys=True).encode()).hexdigest()
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target[key]
        target[last] = value
    if edit is not None:
        edit(data)
    return Entry.model_validate(data)


@pytest.fixture(scope="session")
def variant():
    """``variant(entry, salt=None, edit=None, **changes)``: a distinct entry, changed at dotted paths."""
    return _variant
