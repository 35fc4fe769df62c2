"""Hub publication against a stand-in of the Hub API: the calls made, and the token never shown."""

import shutil
from pathlib import Path

import pytest

from miabench import cli
from miabench.errors import UserError
from miabench.leaderboard import entries, hub

SECRET = "hf_do_not_print_this_token"


class FakeHub:
    """Records the calls miabench makes; refuses when told to."""

    def __init__(self, fail: bool = False):
        self.calls, self.fail = [], fail

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def create_commit(self, repo_id, operations, **kwargs):
        if self.fail:
            raise RuntimeError(f"401 Client Error: Unauthorized for url https://huggingface.co/api (token {SECRET})")
        self.calls.append(("create_commit", repo_id, [op.path_in_repo for op in operations], kwargs))
        return type("Commit", (), {"commit_url": f"https://huggingface.co/datasets/{repo_id}/commit/1", "pr_url": None})


@pytest.fixture
def some_entries(tmp_path):
    root = tmp_path / "entries"
    for path in entries.find()[:3]:
        target = root / path.relative_to(entries.ENTRIES_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (target.with_suffix(".scores.npz")).write_bytes(b"scores")  # a score file beside an entry travels too
    return root


def test_push_creates_the_dataset_repo_and_uploads_entries_scores_and_site_in_one_commit(some_entries):
    api = FakeHub()
    url = hub.push("miabench/leaderboard", some_entries, create_pr=True, api=api)
    assert url.endswith("/commit/1")
    (name, repo, options), (kind, repo_again, paths, commit) = api.calls
    assert (name, repo, options) == ("create_repo", "miabench/leaderboard", {"repo_type": "dataset", "exist_ok": True})
    assert kind == "create_commit" and repo_again == "miabench/leaderboard"
    assert commit["repo_type"] == "dataset" and commit["create_pr"] is True
    assert sum(path.startswith("entries/cpu/") and path.endswith(".json") for path in paths) == 3
    assert any(path.endswith(".scores.npz") for path in paths)
    assert {"site/index.html", "site/leaderboard.md", "site/citations.bib"} <= set(paths)


def test_a_refused_push_is_one_line_without_the_token(some_entries, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    monkeypatch.setattr(hub, "HfApi", lambda: FakeHub(fail=True))
    monkeypatch.setattr(entries, "ENTRIES_DIR", some_entries)
    assert cli.main(["leaderboard", "push", "--repo", "miabench/leaderboard"]) == 2
    captured = capsys.readouterr()
    message = captured.err.strip()
    assert "\n" not in message and "cannot publish to miabench/leaderboard" in message
    assert SECRET not in captured.out + captured.err


def test_pull_downloads_the_entries_and_ledger_and_renders_offline(some_entries, monkeypatch, tmp_path):
    def snapshot_download(repo_id, repo_type, allow_patterns):
        assert (repo_id, repo_type, allow_patterns) == (
            "miabench/leaderboard",
            "dataset",
            ["entries/**", "verified.json"],
        )
        published = tmp_path / "hub-copy"
        shutil.copytree(some_entries, published / "entries")
        (published / "verified.json").write_text('{"verified": []}')
        return str(published)

    monkeypatch.setattr(hub, "snapshot_download", snapshot_download)
    written = hub.pull("miabench/leaderboard", tmp_path / "pulled")
    assert len(list((tmp_path / "pulled" / "entries").rglob("*.json"))) == 3
    assert (tmp_path / "pulled" / "verified.json").is_file()
    assert {Path(path).name for path in written} >= {"index.html", "leaderboard.md", "leaderboard.csv"}

    unpublished = next((tmp_path / "pulled" / "entries").rglob("*.json")).with_suffix(".scores.npz")
    unpublished.write_bytes(b"my own scores")
    with pytest.raises(UserError, match="is not empty: pull into another --out, or add --force"):
        hub.pull("miabench/leaderboard", tmp_path / "pulled")
    assert unpublished.read_bytes() == b"my own scores"  # nothing was deleted
    shutil.rmtree(tmp_path / "hub-copy")
    hub.pull("miabench/leaderboard", tmp_path / "pulled", force=True)
    assert not unpublished.exists()


def test_pull_offline_is_one_line(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise ConnectionError("Max retries exceeded with url: https://huggingface.co\nmore detail")

    monkeypatch.setattr(hub, "snapshot_download", offline)
    with pytest.raises(UserError, match="cannot download miabench/leaderboard") as error:
        hub.pull("miabench/leaderboard", tmp_path)
    assert "\n" not in str(error.value)


def test_push_without_entries_says_what_to_do(tmp_path):
    with pytest.raises(UserError, match="miabench submit"):
        hub.push("miabench/leaderboard", tmp_path / "none", api=FakeHub())
