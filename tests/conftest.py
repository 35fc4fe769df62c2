"""Shared fixtures: where the offline copies of the real datasets are."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``$MIABENCH_DATA_DIR`` (CI sets it), else ``<repo>/../shared/data``; skip the test when neither exists."""
    path = Path(os.environ.get("MIABENCH_DATA_DIR") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
    if not path.is_dir():
        pytest.skip(f"no offline data at {path}: set MIABENCH_DATA_DIR to the shared data folder")
    return path


@pytest.fixture(scope="session")
def location_run(data_dir, tmp_path_factory):
    """The default benchmark (real Location-30 data, K = 16), run once for the session."""
    from miabench import runner

    root = tmp_path_factory.mktemp("location-run")
    records = runner.run(
        task="location",
        attacks=["loss", "lira", "lira-offline"],
        models=16,
        data_dir=data_dir,
        out=root / "out",
        cache_dir=root / "cache",
        progress=False,
    )
    return {record["attack"]["name"]: record for record in records} | {"root": root}
