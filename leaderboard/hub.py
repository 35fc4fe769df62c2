"""Publication on the Hugging Face Hub: the entries, their score files and the built site, as one dataset repo.

The token is whatever ``huggingface_hub`` finds (``HF_TOKEN``, or ``huggingface-cli login``);
miabench never passes it, and masks it in any error it reports.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, snapshot_download

from miabench.errors import UserError
from miabench.leaderboard import build, entries, ledger, site

REPO_TYPE = "dataset"


def _reason(error: Exception) -> str:
    """The error's first line, with anything token-like masked: a token must never reach a terminal or a log."""
    line = (str(error).splitlines() or [type(error).__name__])[0]
    token = os.environ.get("HF_TOKEN")
    if token:
        line = line.replace(token, "***")
    return re.sub(r"hf_[A-Za-z0-9_]+", "hf_***", line)


def render(root: Path, out_dir: Path, verified: dict | None = None) -> list[Path]:
    """Every output of ``miabench leaderboard build`` for the entries under ``root``."""
    return site.write_board(build.load([root]) if Path(root).exists() else [], out_dir, verified)


def push(repo_id: str, root: Path = entries.ENTRIES_DIR, create_pr: bool = False, api: HfApi | None = None) -> str:
    """Upload ``entries/`` (with the score files beside them: those of verified entries are the ones
    validation checks against), the verified ledger and ``site/`` in one commit; return its URL."""
    api = api or HfApi()
    root = Path(root)
    files = sorted(path for path in root.rglob("*") if path.is_file() and not path.name.startswith("."))
    if not files:
        raise UserError(f"no entries under {root}: submit a run first ('miabench submit RUN_DIR --by NAME')")
    with tempfile.TemporaryDirectory() as scratch:
        site_dir = Path(scratch) / "site"
        operations = [CommitOperationAdd(f"entries/{path.relative_to(root).as_posix()}", str(path)) for path in files]
        operations += [CommitOperationAdd(f"site/{path.name}", str(path)) for path in render(root, site_dir)]
        if ledger.LEDGER.is_file():
            operations.append(CommitOperationAdd(ledger.LEDGER.name, str(ledger.LEDGER)))
        return commit(api, repo_id, operations, f"miabench leaderboard: {len(files)} files", create_pr)


def commit(api: HfApi, repo_id: str, operations: list, message: str, create_pr: bool = False) -> str:
    """Create the dataset repo if needed and commit ``operations`` in one commit; return its (or the PR's) URL."""
    try:
        api.create_repo(repo_id, repo_type=REPO_TYPE, exist_ok=True)
        done = api.create_commit(repo_id, operations, commit_message=message, repo_type=REPO_TYPE, create_pr=create_pr)
    except Exception as error:  # noqa: BLE001 - network, auth and Hub errors share no base
        raise UserError(
            f"cannot publish to {repo_id} on the Hub ({_reason(error)}): check the repo id and that "
            "HF_TOKEN (or 'huggingface-cli login') grants write access"
        ) from None
    return getattr(done, "pr_url", None) or getattr(done, "commit_url", str(done))


def download(repo_id: str, allow_patterns: list[str] | None = None, revision: str | None = None) -> Path:
    """The local snapshot of the dataset repo (only ``allow_patterns``), at ``revision`` (default: the latest)."""
    pinned = {"revision": revision} if revision else {}
    try:
        return Path(snapshot_download(repo_id, repo_type=REPO_TYPE, allow_patterns=allow_patterns, **pinned))
    except Exception as error:  # noqa: BLE001 - network, auth and Hub errors share no base
        where = f" at revision {revision}" if revision else ""
        raise UserError(
            f"cannot download {repo_id}{where} from the Hub ({_reason(error)}): check the repo id"
        ) from None


def pull(repo_id: str, out_dir: Path, force: bool = False) -> list[Path]:
    """Download the published entries into ``out_dir/entries`` and render them offline into ``out_dir/site``.

    Entries already in ``out_dir/entries`` (perhaps with unpublished score files) are replaced only with ``force``.
    """
    out_dir = Path(out_dir)
    target = out_dir / "entries"
    if target.exists() and any(target.iterdir()) and not force:
        raise UserError(f"{target} is not empty: pull into another --out, or add --force to replace what it holds")
    local = download(repo_id, ["entries/**", ledger.LEDGER.name])
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(local / "entries", target)
    if (local / ledger.LEDGER.name).is_file():  # the published ledger, for 'validate --scores' on this copy
        shutil.copyfile(local / ledger.LEDGER.name, out_dir / ledger.LEDGER.name)
    return render(target, out_dir / "site", ledger.load(out_dir / ledger.LEDGER.name))
