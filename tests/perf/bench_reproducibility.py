"""Reproducibility of a CPU-track run across torch thread counts: the measurement behind `verify`'s CPU tolerance.

A CPU-track run is float32 and deterministic on one machine, yet the same configuration re-run
on another machine of the same kind gave TPR at 1% FPR 0.283282 against 0.283317 recorded
(location, LiRA, K = 16): the kernels' rounding can depend on the thread count and on the
instruction set the CPU offers. Without a second machine, this runs each configuration once per
thread count (torch intra-op threads, set by OMP_NUM_THREADS and checked against the record's
``environment.threads``) and once with the kernels capped at an older instruction set (--isa:
ATen, MKL and oneDNN, as on an older CPU of the same name), each time in a subprocess with a
fresh cache so that every model is retrained. It compares every number the leaderboard shows
(overall, per subgroup, the utility and the defense's facts), each target's, and whether the
scores are bit-identical. Prints a table and writes JSON with the largest spread of each kind.

    python tests/perf/bench_reproducibility.py                      # threads 1 and 2, AVX2, every config
    python tests/perf/bench_reproducibility.py --threads 1,4 --isa none --configs location,adult
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from miabench import record as records

CONFIGS = {
    "location": [],  # the default run: location, loss, lira and lira-offline, K = 16
    "location-dpsgd": ["--task", "location", "--defense", "dpsgd", "--attack", "loss,lira"],
    "adult": ["--task", "adult", "--attack", "loss,lira,rmia-online"],
    "distress-ngram": ["--task", "distress", "--family", "ngram-mlp", "--attack", "loss,lira"],  # has "flagged"
}
KINDS = ("auc", "tpr", "acc", "utility", "facts")  # acc: the attack's balanced accuracy and advantage
SCOPES = ("headline", "subgroups", "per_target")
SHORT = {"headline": "h.", "subgroups": "s.", "per_target": "t."}
MAIN = "import sys; from miabench.cli import main; sys.exit(main())"
PROBE = "import torch; print(torch.get_num_threads(), torch.backends.cpu.get_cpu_capability())"


def variant_env(threads: int, isa: str | None) -> dict[str, str]:
    """The environment of a run with ``threads`` torch threads and, if given, kernels capped at ``isa``."""
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    if isa:
        env |= {"ATEN_CPU_CAPABILITY": isa.lower(), "MKL_ENABLE_INSTRUCTIONS": isa, "ONEDNN_MAX_CPU_ISA": isa}
    probe = subprocess.run([sys.executable, "-c", PROBE], env=env, check=True, capture_output=True, text=True)
    got_threads, capability = probe.stdout.split()
    if int(got_threads) != threads or (isa and capability != isa):
        sys.exit(f"asked for {threads} threads and {isa or 'native'} kernels; torch has {probe.stdout.strip()}")
    return env


def run(argv: list[str], env: dict[str, str], data_dir: str | None) -> tuple[dict, float]:
    """The records of ``miabench run ARGV`` (by attack) in ``env``, from an empty cache, and its seconds."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-c", MAIN, "run", *argv, "--track", "cpu", "--device", "cpu", "--quiet"]
        command += ["--cache-dir", f"{scratch}/cache", "--out", f"{scratch}/out"]
        command += ["--data-dir", data_dir] if data_dir else []
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        found = {path.parent.name: records.read(path) for path in Path(scratch, "out").rglob("result.json")}
    for name, rec in found.items():
        if rec.environment.threads != int(env["OMP_NUM_THREADS"]):
            sys.exit(f"{name}: the record says {rec.environment.threads} threads, not {env['OMP_NUM_THREADS']}")
    return found, seconds


def numbers(rec) -> dict[tuple[str, str, str], float]:
    """Every number the board shows of a record, and each target's, keyed by (scope, kind, name)."""
    found = {}

    def add_metrics(scope: str, prefix: str, metrics) -> None:
        if metrics is None:
            return
        found[scope, "auc", f"{prefix}auc"] = metrics.auc.mean
        found[scope, "acc", f"{prefix}balanced_accuracy"] = metrics.balanced_accuracy.mean
        found[scope, "acc", f"{prefix}advantage"] = metrics.advantage.mean
        for level, tpr in metrics.tpr_at_fpr.items():
            found[scope, "tpr", f"{prefix}tpr@{level}"] = tpr.mean

    add_metrics("headline", "", rec.metrics)
    add_metrics("subgroups", "all candidates: ", rec.base_metrics)
    for group, metrics in (rec.metrics_by_subgroup or {}).items():
        add_metrics("subgroups", f"{group}: ", metrics)
    if rec.utility is not None:
        spreads = {"test_accuracy": rec.utility.test_accuracy, "balanced_accuracy": rec.utility.balanced_accuracy}
        spreads |= {f"recall {name}": spread for name, spread in rec.utility.recall.items()}
        found |= {("headline", "utility", name): s.mean for name, s in spreads.items() if s is not None}
    for name, fact in rec.defense.facts.items():
        found["headline", "facts", name] = fact.mean
    for target in rec.per_target:
        found["per_target", "auc", f"auc[{target.target}]"] = target.auc
        found["per_target", "acc", f"balanced_accuracy[{target.target}]"] = target.balanced_accuracy
        found["per_target", "acc", f"advantage[{target.target}]"] = target.advantage
        for level, tpr in target.tpr_at_fpr.items():
            found["per_target", "tpr", f"tpr@{level}[{target.target}]"] = tpr.tpr
    return found


def compare(runs: list) -> dict:
    """For one attack's records (one per variant): the spread (max - min) of each headline number and of the
    flagged subgroup's, the largest spread per scope and kind, and whether the scores are bit-identical."""
    tables = [numbers(rec) for rec in runs]
    keys = set(tables[0]).intersection(*tables[1:])
    if any(set(table) != keys for table in tables):
        sys.exit(f"{runs[0].attack.name}: the records do not show the same numbers")
    spreads = {key: max(t[key] for t in tables) - min(t[key] for t in tables) for key in sorted(keys)}
    per_target = {name: spread for (scope, _, name), spread in spreads.items() if scope == "per_target"}
    top = max(per_target, key=per_target.get)
    return {
        "scores_identical": len({rec.scores_file.sha256 for rec in runs}) == 1,
        "max_spread": largest(spreads),
        "shown": {
            name: {"spread": spread, "values": [table[scope, kind, name] for table in tables]}
            for (scope, kind, name), spread in spreads.items()
            if scope == "headline" or name.startswith("flagged: ")
        },
        "largest_per_target": {"name": top, "spread": per_target[top]},
    }


def largest(spreads: dict) -> dict[str, dict[str, float | None]]:
    """The largest spread per scope and kind (None: no number of that kind)."""
    return {
        scope: {kind: worst([v for (s, k, _), v in spreads.items() if (s, k) == (scope, kind)]) for kind in KINDS}
        for scope in SCOPES
    }


def worst(spreads: list[float | None]) -> float | None:
    present = [spread for spread in spreads if spread is not None]
    return max(present) if present else None


def fmt(value: float | None) -> str:
    return "-" if value is None else "0" if value == 0 else f"{value:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    parser.add_argument("--isa", default="AVX2", help="also run at the first thread count with kernels capped "
                        "at this instruction set (AVX2, AVX512 ...); 'none': skip")  # fmt: skip
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}")
    parser.add_argument("--data-dir", default=None, help="default: $MIABENCH_DATA_DIR")
    parser.add_argument("--out", type=Path, default=Path("results/reproducibility/cpu-threads.json"))
    args = parser.parse_args()
    threads = [int(n) for n in args.threads.split(",")]
    isa = None if args.isa.lower() == "none" else args.isa.upper()
    variants = {f"threads={n}": variant_env(n, None) for n in threads}
    groups = {"threads": list(variants)}  # each group: the variants compared with one another
    if isa:
        variants[f"threads={threads[0]},isa={isa}"] = variant_env(threads[0], isa)
        groups["isa"] = [groups["threads"][0], f"threads={threads[0]},isa={isa}"]
    started = time.perf_counter()

    configs, machine = {}, {}
    for name in args.configs.split(","):
        argv = CONFIGS[name]
        found, seconds = {}, {}
        for variant, env in variants.items():
            found[variant], seconds[variant] = run(argv, env, args.data_dir)
            print(f"{name}, {variant}: {seconds[variant]:.0f} s", flush=True)
        first = found[groups["threads"][0]]
        environment = next(iter(first.values())).environment
        machine = {"cpu": environment.cpu, "torch": environment.torch, "platform": environment.platform}
        configs[name] = {
            "command": " ".join(["miabench run", *argv, "--track cpu --device cpu"]),
            "seconds": {variant: round(s, 1) for variant, s in seconds.items()},
            **{
                group: {attack: compare([found[v][attack] for v in members]) for attack in sorted(first)}
                for group, members in groups.items()
            },
        }

    overall, identical = {}, {}
    for group in groups:
        outcomes = [o for config in configs.values() for o in config[group].values()]
        overall[group] = {
            scope: {kind: worst([o["max_spread"][scope][kind] for o in outcomes]) for kind in KINDS} for scope in SCOPES
        }
        identical[group] = all(o["scores_identical"] for o in outcomes)
    report = {
        "purpose": "the spread of a CPU-track run's numbers across torch thread counts (and kernel instruction "
        "sets), to set the tolerance of 'miabench leaderboard verify'",
        "machine": machine | {"cores": os.cpu_count(), "capability": torch.backends.cpu.get_cpu_capability()},
        "thread_counts": threads,
        "isa": isa,
        "groups": groups,
        "spread": "max - min over a group's variants: the largest |difference| between any two of its runs",
        "configs": configs,
        "max_spread": overall,
        "scores_identical": identical,
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    columns = [(scope, kind) for scope in SCOPES for kind in KINDS]
    columns = [c for c in columns if any(o[c[0]][c[1]] is not None for o in overall.values())]
    header = ["config", "attack", *(f"{SHORT[scope]}{kind}" for scope, kind in columns), "same scores"]
    print(f"\nmax |difference| on {machine['cpu']} (torch {machine['torch']}); h: headline, s: subgroups, t: targets")
    for group, members in groups.items():
        rows = [
            [name, attack, *(fmt(o["max_spread"][s][k]) for s, k in columns), o["scores_identical"]]
            for name, config in configs.items()
            for attack, o in config[group].items()
        ]
        rows.append(["all", "", *(fmt(overall[group][s][k]) for s, k in columns), identical[group]])
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        print(f"\n{group}: {' vs '.join(members)}")
        for row in [header, *rows]:
            print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
    print(f"\nwritten to {args.out} in {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
