"""The README stays true: its component lists match the registry, CI runs its test command."""

import json
import re
from pathlib import Path

import pytest

from miabench.registry import attacks, defenses, tasks

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def readme_table_names(heading: str) -> list[str]:
    section = README.split("<!-- registry -->")[1].split("<!-- /registry -->")[0]
    table = section.split(f"**{heading}**")[1].split("**")[0]
    return sorted(re.findall(r"^\| `([^`]+)` \|", table, flags=re.MULTILINE))


@pytest.mark.parametrize(("heading", "registry"), [("Tasks", tasks), ("Attacks", attacks), ("Defenses", defenses)])
def test_readme_lists_every_registered_component(heading, registry):
    assert readme_table_names(heading) == registry.names()


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    commands = re.search(r"```bash\n(.+?)\n```", README, flags=re.DOTALL).group(1).splitlines()
    assert len(commands) == 2
    assert "miabench run" in commands[0] and "pytest" in commands[1]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci_lines[-1] == commands[1]


def test_readme_default_run_table_is_the_committed_record():
    from miabench.report import results_table

    folder = ROOT / "results" / "cpu" / "location-none-K16-seed0"
    records = [json.loads((folder / name / "result.json").read_text()) for name in ("loss", "lira", "lira-offline")]
    assert records[0]["miabench"]["dirty"] is False  # run from a committed tree
    assert results_table(records) in README
