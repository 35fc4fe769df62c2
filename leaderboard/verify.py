"""Verification: re-run an entry's configuration with the harness, compare everything the board shows,
and record the outcome in the maintainers' ledger.

An entry scored from a published signal cube (its ``cube`` field) is re-scored from that same cube, found
in the local store or pulled at the revision it names and checked by its sha256, with the attack as
installed here (of the package and version the entry names, for a third-party attack): nothing trains.

Every number the board shows is compared: AUC, balanced accuracy, advantage and TPR at each FPR,
overall and per subgroup; the utility (test and balanced accuracy, each recall); the defense's
facts (e.g. DP-SGD's epsilon). Each kind has its tolerance, ``TOLERANCE[track]``.

On the CPU track the tolerances are about twice the largest spread measured, rounded up. The
thread count changes nothing (1 and 2 threads give bit-identical scores), but the instruction
set the kernels use does: the same configs with AVX-512 and with AVX2 kernels on one machine
(``tests/perf/bench_reproducibility.py``, record ``results/reproducibility/cpu-threads.json``)
differ by up to 1.6e-3 in a headline metric, 4.3e-3 in a subgroup's and 2.4e-3 in utility; a
re-run on an Intel machine of entries made on an AMD one (the ledger's ``largest_difference``)
by up to 7.9e-4, 2.7e-3 and 1.8e-3. On the GPU track, unmeasured so far, bf16 kernels may round
differently between GPUs and drivers: one percentage point, two for a subgroup.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from miabench import cubes, runner
from miabench.errors import UserError
from miabench.leaderboard import entries, ledger
from miabench.leaderboard.validate import validate
from miabench.record import Entry, Record
from miabench.registry import attacks
from miabench.spec import RunSpec

# The largest |entry - re-run| accepted, per kind of number and track.
TOLERANCE = {
    "cpu": {"metrics": 4e-3, "subgroups": 9e-3, "utility": 5e-3, "facts": 1e-6},
    "gpu": {"metrics": 0.01, "subgroups": 0.02, "utility": 0.01, "facts": 1e-6},
}


def shown_numbers(record: Record) -> dict[str, tuple[str, float]]:
    """Every number the board can show of a record, by name, with its kind (a key of TOLERANCE)."""
    numbers = {}

    def add_metrics(prefix: str, metrics, kind: str = "metrics") -> None:
        if metrics is None:
            return
        for name in ("auc", "balanced_accuracy", "advantage"):
            numbers[f"{prefix}{name}"] = (kind, getattr(metrics, name).mean)
        for level, tpr in metrics.tpr_at_fpr.items():
            numbers[f"{prefix}TPR at {level} FPR"] = (kind, tpr.mean)

    add_metrics("", record.metrics)
    add_metrics("all candidates: ", record.base_metrics)
    for group, metrics in (record.metrics_by_subgroup or {}).items():
        add_metrics(f"{group}: ", metrics, "subgroups")
    if record.utility is not None:
        spreads = {"test accuracy": record.utility.test_accuracy, "balanced accuracy": record.utility.balanced_accuracy}
        spreads |= {f"recall {name}": spread for name, spread in record.utility.recall.items()}
        spreads["worst-class recall"] = record.utility.worst_class_recall  # None: not stated (an older record)
        numbers |= {name: ("utility", spread.mean) for name, spread in spreads.items() if spread is not None}
    for name, fact in record.defense.facts.items():
        numbers[f"defense {name}"] = ("facts", fact.mean)
    return numbers


def differences(stated: Record, fresh: Record, tolerance: dict[str, float]) -> tuple[list[str], dict[str, float]]:
    """The numbers of the entry that differ from the re-run's by more than their kind's tolerance (one line
    each), and the largest difference of each kind. A number only the re-run gives (an entry upgraded from
    an older schema records fewer) is not compared; one only the entry gives is a difference."""
    ours, theirs = shown_numbers(stated), shown_numbers(fresh)
    lines, largest = [], dict.fromkeys(tolerance, 0.0)
    for name in sorted(ours):
        kind, a = ours[name]
        if name not in theirs:
            lines.append(f"{name}: only the entry has it")
            continue
        b = theirs[name][1]
        largest[kind] = max(largest[kind], abs(a - b))
        if abs(a - b) > tolerance[kind]:
            lines.append(f"{name}: entry {a:.6f}, re-run {b:.6f}")
    return lines, largest


def installed_package(record: Record) -> str | None:
    """Why the attack as installed here is not the package and version that scored the entry (None: it is)."""
    stated = record.attack.package
    stated = None if stated is None else (stated.name, stated.version)
    try:
        installed = attacks.package(record.attack.name)
    except UserError:
        if stated is None:
            return None  # an unknown built-in: validation says so
        installed = None
    if installed == stated:
        return None
    if stated is None:
        return f"its attack '{record.attack.name}' is a built-in, but here {' '.join(installed)} provides it: " \
               "verify it without that package"  # fmt: skip
    here = "is not installed here" if installed is None else f"here it is {' '.join(installed)}"
    return f"its attack '{record.attack.name}' is {' '.join(stated)} and {here}: pip install '{'=='.join(stated)}'"


def rerun(record: Record, out: Path, data_dir: Path | None = None, cache_dir: Path | None = None,
          executor: str = "local", address: str | None = None) -> Record:  # fmt: skip
    """The record of the same configuration: re-scored from the same cube for a record scored from one
    (nothing trains), else trained and attacked afresh (or from the local cache). Either way the attack's
    record and scores are written to ``out/<attack>/``."""
    if record.cube is not None:
        cube = cubes.of_record(record, cache_dir)
        params = {record.attack.name: record.attack.params, record.defense.name: record.defense.params}
        (fresh,) = cubes.score(cube, [record.attack.name], params, out / record.attack.name, record.defense.name)
        return fresh
    spec = RunSpec.from_record(record, data_dir=data_dir, cache_dir=cache_dir, out=out, progress=False,
                               executor=executor, address=address)  # fmt: skip
    (fresh,) = runner.run(spec)
    return fresh


def verify(path: Path, verified_by: str, data_dir: Path | None = None, cache_dir: Path | None = None,
           ledger_path: Path | None = None, executor: str = "local",
           address: str | None = None) -> ledger.Verification:  # fmt: skip
    """Re-run the entry at ``path``; record it in the ledger when every shown number matches, else raise."""
    path = Path(path)
    entry: Entry = entries.read(path)
    package = installed_package(entry)
    if package:
        raise UserError(f"{path} cannot be verified with this install: {package}, then verify it again")
    problems = validate(entry)
    if problems:
        raise UserError(f"{path} is not a valid entry ({problems[0]}): it cannot be verified")
    status = ledger.status(entries.entry_key(entry), entry, ledger.load(ledger_path))
    with tempfile.TemporaryDirectory() as scratch:
        fresh = rerun(entry.record, Path(scratch), data_dir, cache_dir, executor, address)
        lines, largest = differences(entry, fresh, TOLERANCE[entry.track.name])
        if lines:
            kept = "it stays verified by its earlier re-run" if status == "verified" else "it stays pending"
            more = f"; and {len(lines) - 8} more" if len(lines) > 8 else ""
            raise UserError(
                f"{path} does not reproduce within the {entry.track.name} track's tolerance: " + "; ".join(lines[:8])
                + f"{more} (the ledger is unchanged and {kept}; check the entry's commit {entry.miabench.commit} "
                "and data copy, or resubmit the run)"
            )  # fmt: skip
        if fresh.scores_file.sha256 == entry.scores_file.sha256:  # the very scores: publish them with the entry
            shutil.copyfile(Path(scratch) / entry.attack.name / "scores.npz", entries.scores_beside(path))
    environment = fresh.environment
    verification = ledger.Verification(
        entry=entries.entry_key(entry), sha256=ledger.content_sha256(entry), scores_sha256=entry.scores_file.sha256,
        verified_by=verified_by, verified=entries.now(), commit=fresh.miabench.commit,
        machine=ledger.Machine(cpu=environment.cpu, threads=environment.threads, platform=environment.platform,
                               gpu=environment.gpu, fingerprint=environment.fingerprint),
        largest_difference=largest,
    )  # fmt: skip
    ledger.add(verification, ledger_path)
    return verification


def pending(paths: list[Path] | None = None, ledger_path: Path | None = None) -> list[Path]:
    """The entries under ``paths`` (default: the board's) that the ledger does not list as verified."""
    lines, chosen = ledger.load(ledger_path), []
    for path in entries.find(paths):
        entry = entries.read(path)
        if ledger.status(entries.entry_key(entry), entry, lines) == "pending":
            chosen.append(path)
    return chosen


def verify_all(verified_by: str, paths: list[Path] | None = None, data_dir: Path | None = None,
               cache_dir: Path | None = None, ledger_path: Path | None = None, executor: str = "local",
               address: str | None = None, say=print) -> tuple[list[Path], list[str]]:  # fmt: skip
    """Verify every pending entry in turn through the same machinery as one (``miabench leaderboard verify
    --all``): entries of one run share its cache entry, so its models train once. The verified entries, and a
    line for each that did not verify (the others go on)."""
    chosen = pending(paths, ledger_path)
    done, failed = [], []
    for i, path in enumerate(chosen, 1):
        say(f"entry {i} of {len(chosen)}: {path}")
        try:
            verify(path, verified_by, data_dir, cache_dir, ledger_path, executor, address)
            done.append(path)
        except UserError as error:
            failed.append(str(error))
    return done, failed
