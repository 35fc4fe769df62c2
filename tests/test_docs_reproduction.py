"""docs/boundary-targeted-reproduction.md is the render of its records (benchmark/reproduction.py)."""

import re

import pytest

from miabench import reproduction


@pytest.fixture(scope="module")
def rendered() -> str:
    return reproduction.render()


def test_the_reproduction_note_is_the_render_of_its_records(rendered):
    written = (reproduction.ROOT / reproduction.DOC).read_text(encoding="utf-8")
    assert written == rendered, "run 'python -m miabench.reproduction' and commit the note"


def test_every_pending_task_is_listed_and_none_is_also_studied(rendered):
    assert not {study.task for study in reproduction.STUDIES} & {task for task, _ in reproduction.PENDING}
    assert all(f"| {task} " in rendered for task, _ in reproduction.PENDING)


def test_the_readme_paragraph_quotes_only_figures_of_the_note(rendered):
    readme = (reproduction.ROOT / "README.md").read_text(encoding="utf-8")
    paragraph = readme.split("### Safety classifiers\n")[1].split("\n### ")[0]
    figures = re.findall(r"\d+\.\d+[%×]", paragraph)
    assert figures and all(figure.rstrip("%×") in rendered for figure in figures), figures
