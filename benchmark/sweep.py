"""Running a sweep (:class:`miabench.spec.Sweep`): each setting in order, then the privacy–utility frontier."""

from __future__ import annotations

from pathlib import Path

from miabench import frontier, runner
from miabench.spec import Sweep


def run(sweep: Sweep, out: Path) -> list[tuple[str, list]]:
    """Run every setting of ``sweep`` (each into its own folder), then write the frontier into ``out``."""
    runs = [(name, runner.run(spec)) for name, spec in sweep.runs]
    frontier.write(Path(out), runs)
    return runs
