"""Running a sweep (:class:`miabench.spec.Sweep`): each setting in order, then the privacy–utility frontier."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from miabench import frontier, runner
from miabench.spec import Sweep


def run(sweep: Sweep, out: Path, finished: Callable[[str, list], None] | None = None) -> list[tuple[str, list]]:
    """Run every setting of ``sweep`` (each into its own folder), then write the frontier into ``out``.

    ``finished(name, records)`` runs as each setting ends, so its results show before the next trains."""
    runs = []
    for name, spec in sweep.runs:
        runs.append((name, runner.run(spec, label=name)))
        if finished is not None:
            finished(*runs[-1])
    frontier.write(Path(out), runs)
    return runs
