"""The ``miabench`` command: list components, run a benchmark, score a signals file."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from tabulate import tabulate

from miabench import engine, report, runner, sweep, vulnerability
from miabench.errors import UserError
from miabench.leaderboard import build, entries, hub, site, validate, verify
from miabench.leaderboard import submit as submission
from miabench.leaderboard.cite import bibtex as cite_bibtex
from miabench.params import declared, parse_assignments
from miabench.registry import attacks, defenses, tasks

REGISTRIES = {"tasks": tasks, "attacks": attacks, "defenses": defenses}


def parameters_text(entry) -> str:
    values = {name: f.default for name, f in declared(entry.component_class).items()}
    values.update(entry.preset)
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "-"


def list_components(kind: str | None) -> str:
    blocks = []
    for name, registry in REGISTRIES.items():
        if kind not in (None, name):
            continue
        rows = []
        for component in registry.names():
            entry = registry.entry(component)
            row = [component, parameters_text(entry)]
            if name == "tasks":
                meta = entry.component_class.metadata
                row = [component, meta.version, meta.model_family, meta.default_models, meta.description, row[1]]
            elif name == "attacks":
                threat = registry.create(component).threat_model()
                needs = [f"{threat.min_references}+ references"] if threat.min_references else []
                needs += ["online"] * threat.online + ["auxiliary"] * threat.auxiliary
                needs += [f"{threat.queries} queries"] if threat.queries else []
                row = [component, threat.access, ", ".join(needs) or "-", row[1]]
            rows.append(row)
        headers = {
            "tasks": ["task", "version", "model family", "K", "description", "parameters"],
            "attacks": ["attack", "access", "needs", "parameters (defaults)"],
            "defenses": ["defense", "parameters (defaults)"],
        }[name]
        blocks.append(f"{name}:\n" + tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    return "\n\n".join(blocks)


def comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="miabench", description=__doc__)
    sub = main.add_subparsers(dest="command", required=True)

    listing = sub.add_parser("list", help="list the registered tasks, attacks and defenses")
    listing.add_argument("kind", nargs="?", choices=sorted(REGISTRIES))

    run = sub.add_parser("run", help="train the models of a task and attack each in turn")
    run.add_argument("--task", default=runner.DEFAULT_TASK)
    run.add_argument(
        "--attack", type=comma_list, default=list(runner.DEFAULT_ATTACKS), help="comma-separated, or 'all'"
    )
    run.add_argument(
        "--defense", type=comma_list, default=[runner.DEFAULT_DEFENSE], help="comma-separated: several make a sweep"
    )
    run.add_argument("--family", help="the model family, for tasks that offer several (e.g. minilm-head, ngram-mlp)")
    run.add_argument("--models", type=int, help="K, the number of models (default: the task's)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="component parameter")
    run.add_argument("--out", type=Path, help="directory for the records (default: miabench-results/...)")
    run.add_argument("--data-dir", help="local dataset folder (default: $MIABENCH_DATA_DIR, else the public source)")
    run.add_argument("--device", default="auto", help="auto, cpu or cuda")
    run.add_argument(
        "--profile",
        default="auto",
        help="the harness track: cpu, gpu (refused without a GPU), or auto (gpu if one is visible)",
    )
    run.add_argument("--strategy", choices=engine.STRATEGIES, help="how models train together (default: the task's)")
    run.add_argument("--models-per-group", type=int, help="models trained together (default: all K)")
    run.add_argument("--cache-dir", type=Path, help="signals cache (default: $MIABENCH_CACHE_DIR or the user cache)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    score = sub.add_parser("score", help="attack every model of a signals.npz file in turn")
    score.add_argument("--signals", type=Path, required=True)
    score.add_argument("--attack", required=True)
    score.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    score.add_argument("--out", type=Path, required=True)
    score.add_argument("--seed", type=int, default=0, help="seed of the bootstrap confidence intervals")

    submit = sub.add_parser("submit", help="validate a run's records and add them as pending leaderboard entries")
    submit.add_argument("run_dir", type=Path, help="the --out folder of a 'miabench run' (or one attack's folder)")
    submit.add_argument("--by", required=True, help="who ran it (name or affiliation), kept in the entry")
    submit.add_argument("--scores-url", help="where the per-example scores files are published")
    submit.add_argument("--entries", type=Path, help="the entries folder (default: the package's leaderboard/entries)")

    board = sub.add_parser("leaderboard", help="validate the leaderboard's entries")
    board_sub = board.add_subparsers(dest="action", required=True)
    check = board_sub.add_parser("validate", help="check entries: config and plan hashes, seeds, metrics")
    check.add_argument("paths", nargs="*", type=Path, help="entry files or folders (default: every entry)")
    render = board_sub.add_parser("build", help="tables (Markdown, CSV, JSON, LaTeX), BibTeX and the web page")
    render.add_argument("--out", type=Path, default=Path("leaderboard-site"), help="output folder")
    render.add_argument("paths", nargs="*", type=Path, help="entry files or folders (default: every entry)")

    check_again = board_sub.add_parser("verify", help="re-run an entry's config and mark it verified if it matches")
    check_again.add_argument("entry", type=Path)
    check_again.add_argument("--by", required=True, help="who verified it")
    check_again.add_argument("--data-dir", help="local dataset folder (default: $MIABENCH_DATA_DIR)")
    check_again.add_argument("--cache-dir", type=Path)
    publish = board_sub.add_parser("push", help="upload entries, score files and the site to a Hub dataset repo")
    publish.add_argument("--repo", required=True, help="ORG/NAME of the dataset repo (created if needed)")
    publish.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    fetch = board_sub.add_parser("pull", help="download a published leaderboard and render it offline")
    fetch.add_argument("--repo", required=True)
    fetch.add_argument("--out", type=Path, default=Path("leaderboard-pulled"))

    cite = sub.add_parser("cite", help="the BibTeX to cite: the benchmark and the named components")
    cite.add_argument("--task")
    cite.add_argument("--attack")
    cite.add_argument("--defense")

    vulnerable = sub.add_parser("vulnerable", help="the examples an attack recovers most consistently")
    vulnerable.add_argument("result", type=Path, help="a result folder (holding result.json and scores.npz)")
    vulnerable.add_argument("--fpr", type=float, default=0.01, help="the FPR at which an example counts as caught")
    vulnerable.add_argument("--top", type=int, default=20)
    return main


def execute(args: argparse.Namespace) -> None:
    if args.command == "list":
        print(list_components(args.kind))
    elif args.command == "run":
        params = parse_assignments(args.param)
        common = {
            "task": args.task, "attacks": args.attack, "family": args.family, "models": args.models,
            "seed": args.seed, "data_dir": args.data_dir, "device": args.device,
            "models_per_group": args.models_per_group, "cache_dir": args.cache_dir, "progress": not args.quiet,
            "profile": args.profile, "strategy": args.strategy,
        }  # fmt: skip
        if sweep.is_sweep(args.defense, params):
            named = "-".join(args.defense)
            out = args.out or Path("miabench-results") / f"{args.task}-{named}-sweep-seed{args.seed}"
            runs = sweep.run(out, args.defense, params, **common)
            for setting, records in runs:
                print(f"\n## {setting}\n\n{report.run_summary(records)}")
            print(f"\n## privacy–utility frontier\n\n{(out / 'frontier.md').read_text()}")
            print(f"table, plot and points: {out}/frontier.{{md,png,svg,json}}")
        else:
            records = runner.run(defense=args.defense[0], params=params, out=args.out, **common)
            print(report.run_summary(records))
    elif args.command == "score":
        record = runner.score(args.signals, args.attack, parse_assignments(args.param), args.out, args.seed)
        print(report.run_summary([record]))
        print(f"\nrecord written to {args.out / 'result.json'}")
    elif args.command == "submit":
        root = args.entries or entries.ENTRIES_DIR
        for path in submission.submit(args.run_dir, args.by, root, args.scores_url):
            print(f"pending entry: {path}")
    elif args.command == "leaderboard" and args.action == "validate":
        failed = 0
        for path in entries.find(args.paths):
            problems = validate.validate(entries.read(path), submission.scores_beside(path))
            failed += bool(problems)
            print(f"ok    {path}" if not problems else "\n".join(f"FAIL  {path}: {line}" for line in problems))
        if failed:
            raise UserError(f"{failed} entries failed validation (one line each above); fix or resubmit them")
    elif args.command == "leaderboard" and args.action == "build":
        chosen = build.load(args.paths or None)
        written = site.write_board(chosen, args.out)
        print(f"{len(chosen)} entries -> " + ", ".join(str(path) for path in written))
    elif args.command == "leaderboard" and args.action == "verify":
        verify.verify(args.entry, args.by, args.data_dir, args.cache_dir)
        print(f"verified: {args.entry}")
    elif args.command == "leaderboard" and args.action == "push":
        print(f"published: {hub.push(args.repo, entries.ENTRIES_DIR, create_pr=args.create_pr)}")
    elif args.command == "leaderboard" and args.action == "pull":
        written = hub.pull(args.repo, args.out)
        print(f"entries in {args.out / 'entries'}; rendered: " + ", ".join(str(path) for path in written))
    elif args.command == "cite":
        print(cite_bibtex(args.task, args.attack, args.defense), end="")
    elif args.command == "vulnerable":
        table = vulnerability.most_vulnerable(args.result, args.fpr, args.top)
        print(f"most vulnerable examples at {args.fpr:g} FPR (caught / times a member of the target):")
        table["vulnerability"] = table["vulnerability"].map("{:.3f}".format)
        print(tabulate(table, headers="keys", tablefmt="github", showindex=False))


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = lambda message, *args, **kwargs: f"miabench: warning: {message}\n"
    args = parser().parse_args(argv)
    try:
        execute(args)
    except UserError as error:
        print(f"miabench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("miabench: interrupted; run the same command again to resume from the cache", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
