"""Time from ``pip install`` of a third-party attack to its entries on a locally built board, from a cube alone.

Setup (not timed): a location cube in a scratch cache's local cube store (a small run, exported, as
``miabench signals pull`` would leave a published one), and a throwaway venv that sees this
environment's packages (``python -m venv --system-site-packages``, plus a ``.pth`` line adding this
environment's site directory, since a venv made from a venv sees the base interpreter's only; the
venv has no pip of its own, so this environment's pip and setuptools install into it). The
shared environment is never touched: the toy package ``tests/benchmark/toy_attack`` is installed
into the throwaway venv only. Timed, each step a fresh process as a user types it:

1. ``pip install ./toy_attack`` (its ``miabench.attacks`` entry point registers ``toy-installed``)
2. ``miabench score --task location ... --attack toy-installed`` (finds the cube by name; trains nothing)
3. ``miabench submit``
4. ``miabench leaderboard validate`` of the new entries
5. ``miabench leaderboard build`` of the repository's board with the new entries

    python tests/perf/bench_cube_attack.py                       # K = 4, one epoch: setup in seconds
    python tests/perf/bench_cube_attack.py --models 16 --epochs 30  # the standard CPU-track setting
"""

from __future__ import annotations

import argparse
import shutil
import site
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import miabench
from miabench import cubes

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / "tests" / "benchmark" / "toy_attack"
MIABENCH = "from miabench.cli import main; raise SystemExit(main())"  # the console script, in the venv's python


def setup(work: Path, models: int, epochs: int) -> Path:
    """A location cube in the local store of ``work/cache``, and the throwaway venv; returns its python."""
    miabench.evaluate(task="location", attacks=["loss"], models=models, track="cpu", params={"epochs": epochs},
                      out=work / "run", cache_dir=work / "cache", progress=False)  # fmt: skip
    cubes.export(work / "run", cubes.store(work / "cache"), work / "cache")
    venv = work / "toyvenv"
    # Without its own pip and old setuptools, which would shadow this environment's (pip installs into the venv).
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"], check=True,
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    ours = site.getsitepackages()[0]  # this environment's, whose .pth files (the editable miabench) must run too
    (Path(own) / "shared-env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    shutil.copytree(TOY, work / "toy_attack")
    return python


def timed(label: str, argv: list[str], times: dict) -> str:
    start = time.perf_counter()
    done = subprocess.run(argv, check=False, capture_output=True, text=True)
    times[label] = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{label} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed after)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="miabench-cube-bench-") as scratch:
        work = args.work or Path(scratch)
        python = setup(work, args.models, args.epochs)
        miabench_cli = [str(python), "-c", MIABENCH]
        setting = ["--task", "location", "--defense", "none", "--track", "cpu", "--models", str(args.models),
                   "--param", f"epochs={args.epochs}", "--cache-dir", str(work / "cache")]  # fmt: skip
        times: dict[str, float] = {}
        timed("pip install", [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                              "--quiet", str(work / "toy_attack")], times)  # fmt: skip
        timed("score by task name", [*miabench_cli, "score", *setting, "--attack", "toy-installed",
                                     "--out", str(work / "results")], times)  # fmt: skip
        timed("submit", [*miabench_cli, "submit", str(work / "results"), "--by", "bench",
                         "--entries", str(work / "entries")], times)  # fmt: skip
        timed("validate", [*miabench_cli, "leaderboard", "validate", str(work / "entries")], times)
        built = timed("build", [*miabench_cli, "leaderboard", "build", "--out", str(work / "site"),
                                str(ROOT / "leaderboard" / "entries"), str(work / "entries")], times)  # fmt: skip
        board = (work / "site" / "leaderboard.md").read_text(encoding="utf-8")
        assert "toy-installed" in board and "miabench-toy-attack 0.1.0" in board, "the entry is not on the board"
        print(f"location K={args.models}, {args.epochs} epoch(s); {built.strip().split(' -> ')[0]} on the board")
        for label, seconds in times.items():
            print(f"  {label:<20} {seconds:6.1f} s")
        print(f"  {'pip install -> board':<20} {sum(times.values()):6.1f} s")


if __name__ == "__main__":
    main()
