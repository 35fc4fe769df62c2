"""The ``miabench`` command: list components, run a benchmark, plan and score outside models, manage the leaderboard.

Each command imports what it needs when it runs, so ``miabench list`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from miabench.errors import UserError


def comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# Flags of `run` that set a RunSpec field of the same name; None means "not given" (a config file's
# value, else the spec's default, applies).
RUN_FIELDS = ("task", "defense", "models", "seed", "track", "device", "strategy", "models_per_group", "data_dir",
              "cache_dir", "out", "family")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    import miabench

    main = argparse.ArgumentParser(prog="miabench", description=__doc__.splitlines()[0])
    main.add_argument("--version", action="version", version=f"miabench {miabench.__version__}")
    sub = main.add_subparsers(dest="command", required=True)

    listing = sub.add_parser("list", help="list the registered tasks, attacks and defenses, or show one in full")
    listing.add_argument("name", nargs="?", help="tasks, attacks, defenses, or the name of one component")

    run = sub.add_parser("run", help="train the models of a task and attack each in turn")
    run.add_argument("--config", type=Path, help="a TOML file of run settings (see examples/); flags override it")
    run.add_argument("--task", help="the task (default: location)")
    run.add_argument("--attack", type=comma_list, help="comma-separated, or 'all' (default: loss,lira,lira-offline)")
    run.add_argument("--defense", type=comma_list, help="comma-separated: several make a sweep (default: none)")
    run.add_argument("--family", help="the model family, for tasks that offer several (e.g. minilm-head, ngram-mlp)")
    run.add_argument("--models", type=int, help="K, the number of models (default: the track's)")
    run.add_argument("--seed", type=int, help="the run seed, a non-negative integer (default: 0)")
    run.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="component parameter")
    run.add_argument("--out", type=Path, help="directory for the records (default: miabench-results/...)")
    run.add_argument("--data-dir", type=Path, help="local dataset folder (default: $MIABENCH_DATA_DIR, else the "
                     "public source)")  # fmt: skip
    run.add_argument("--device", help="auto, cpu or cuda (default: auto)")
    run.add_argument("--track", "--profile", dest="track",
                     help="the harness track: cpu, gpu (refused without a GPU), or auto (default: gpu if one is visible)")  # fmt: skip
    run.add_argument(
        "--strategy", help="how models train together: stacked, grouped or sequential (default: the task's)"
    )
    run.add_argument("--models-per-group", type=int, help="models trained together (default: all K)")
    run.add_argument("--cache-dir", type=Path, help="signals cache (default: $MIABENCH_CACHE_DIR or the user cache)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    score = sub.add_parser("score", help="attack every model of a signals.npz file in turn")
    score.add_argument("--signals", type=Path, required=True)
    score.add_argument("--attack", type=comma_list, required=True, help="comma-separated, or 'all'")
    score.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    score.add_argument("--out", type=Path, required=True)
    score.add_argument("--seed", type=int, default=0, help="seed of the bootstrap confidence intervals")

    plan = sub.add_parser("plan", help="write the paired membership plan to train models by, for 'score'")
    plan.add_argument("--models", type=int, required=True, help="K, an even number of models")
    plan.add_argument("--examples", type=int, required=True, help="N, the candidate examples")
    plan.add_argument("--auxiliary", type=int, default=0, help="examples in no model (known non-members)")
    plan.add_argument("--seed", type=int, required=True)
    plan.add_argument("--out", type=Path, required=True, help="the .npz file to write")

    upgrade = sub.add_parser("upgrade", help="rewrite schema-1 records and entries as schema 2, in place")
    upgrade.add_argument("paths", nargs="+", type=Path, help="result.json files, entry files, or folders of them")

    submit = sub.add_parser("submit", help="validate a run's records and add them as pending leaderboard entries")
    submit.add_argument("run_dir", type=Path, help="the --out folder of a 'miabench run' (or one attack's folder)")
    submit.add_argument("--by", required=True, help="who ran it (name or affiliation), kept in the entry")
    submit.add_argument("--scores-url", help="where the per-example scores files are published")
    submit.add_argument("--entries", type=Path, help="the entries folder (default: the package's leaderboard/entries)")

    board = sub.add_parser("leaderboard", help="validate, build, verify, push or pull the leaderboard")
    board_sub = board.add_subparsers(dest="action", required=True)
    check = board_sub.add_parser("validate", help="check entries: schema, names, hashes, data, times, ledger, metrics")
    check.add_argument("paths", nargs="*", type=Path, help="entry files or folders (default: every entry)")
    check.add_argument("--scores", type=Path, action="append", default=[], metavar="DIR",
                       help="a published copy (e.g. 'leaderboard pull --out DIR'), whose entries/ holds score files")  # fmt: skip
    render = board_sub.add_parser("build", help="tables (Markdown, CSV, JSON, LaTeX), BibTeX and the web page")
    render.add_argument("--out", type=Path, default=Path("leaderboard-site"), help="output folder")
    render.add_argument("paths", nargs="*", type=Path, help="entry files or folders (default: every entry)")
    check_again = board_sub.add_parser(
        "verify", help="re-run an entry's config; record it in the verified ledger if it matches"
    )
    check_again.add_argument("entry", type=Path)
    check_again.add_argument("--by", required=True, help="who verified it")
    check_again.add_argument("--data-dir", type=Path, help="local dataset folder (default: $MIABENCH_DATA_DIR)")
    check_again.add_argument("--cache-dir", type=Path)
    publish = board_sub.add_parser("push", help="upload entries, score files and the site to a Hub dataset repo")
    publish.add_argument("--repo", required=True, help="ORG/NAME of the dataset repo (created if needed)")
    publish.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    fetch = board_sub.add_parser("pull", help="download a published leaderboard and render it offline")
    fetch.add_argument("--repo", required=True)
    fetch.add_argument("--out", type=Path, default=Path("leaderboard-pulled"))
    fetch.add_argument("--force", action="store_true", help="replace the entries already in --out")

    cite = sub.add_parser("cite", help="the BibTeX to cite: the benchmark and the named components")
    cite.add_argument("--task")
    cite.add_argument("--attack")
    cite.add_argument("--defense")

    vulnerable = sub.add_parser("vulnerable", help="the examples an attack recovers most consistently")
    vulnerable.add_argument("result", type=Path, help="a result folder (holding result.json and scores.npz)")
    vulnerable.add_argument("--fpr", type=float, default=0.01, help="the FPR at which an example counts as caught")
    vulnerable.add_argument("--top", type=int, default=20)
    return main


def run_settings(args: argparse.Namespace) -> tuple[dict, list[str], dict]:
    """The run's fields, defenses and parameter assignments: the config file's, overridden by the flags."""
    from miabench import spec
    from miabench.params import parse_assignments

    config = spec.read_config(args.config) if args.config else {}
    fields = {key: value for key, value in config.items() if key not in ("defense", "params")}
    fields |= {key: getattr(args, key) for key in RUN_FIELDS if key != "defense" and getattr(args, key) is not None}
    if args.attack is not None:
        fields["attacks"] = args.attack
    if args.quiet:
        fields["progress"] = False
    defenses = args.defense or config.get("defense") or [spec.DEFAULT_DEFENSE]
    defenses = [defenses] if isinstance(defenses, str) else list(defenses)
    assignments = {**config.get("params", {}), **parse_assignments(args.param)}
    return fields, defenses, assignments


def run(args: argparse.Namespace) -> None:
    from miabench import report, runner, spec, sweep

    fields, defenses, assignments = run_settings(args)
    out = fields.pop("out", None)
    if spec.is_sweep(defenses, assignments):
        if out is None:
            seed = fields.get("seed", 0)
            out = (
                Path("miabench-results")
                / f"{fields.get('task', spec.DEFAULT_TASK)}-{'-'.join(defenses)}-sweep-seed{seed}"
            )
        plan = spec.sweep(defenses, assignments, out, **fields)
        for name, records in sweep.run(plan, out):
            print(f"\n## {name}\n\n{report.run_summary(records)}")
        print(f"\n## privacy–utility frontier\n\n{(out / 'frontier.md').read_text()}")
        print(f"table, plot and points: {out}/frontier.{{md,png,svg,json}}")
        return
    chosen = spec.make(assignments, defense=defenses[0], **fields)
    prepared = runner.prepare(chosen)  # refuses a bad setting before the default folder is named
    chosen = chosen.replace(out=out or chosen.replace(models=prepared.models).default_out())
    print(report.run_summary(runner.run(chosen)))


def execute(args: argparse.Namespace) -> None:
    if args.command == "list":
        from miabench import catalog

        kinds = (None, *catalog.REGISTRIES)
        print(catalog.listing(args.name) if args.name in kinds else catalog.describe(args.name))
    elif args.command == "run":
        run(args)
    elif args.command == "score":
        from miabench import report, runner
        from miabench.params import parse_assignments, route
        from miabench.registry import attacks
        from miabench.spec import ALL

        names = attacks.names() if args.attack == [ALL] else args.attack
        params = route(parse_assignments(args.param), {name: attacks.entry(name).component_class for name in names})
        records = runner.score(args.signals, args.attack, params, args.seed, args.out)
        print(report.run_summary(records))
        folders = [args.out] if len(records) == 1 else [args.out / record.attack.name for record in records]
        print("\nrecords written to " + ", ".join(str(folder / "result.json") for folder in folders))
    elif args.command == "plan":
        from miabench.atomic import save_npz
        from miabench.plan import MembershipPlan

        members = MembershipPlan.balanced(args.models, args.examples, args.seed, args.auxiliary).members
        save_npz(args.out, members=members, models=args.models, examples=args.examples, seed=args.seed,
                 auxiliary=args.auxiliary)  # fmt: skip
        print(
            f"paired plan of {args.models} models and {args.examples} examples ({args.auxiliary} auxiliary, in no "
            f"model) written to {args.out}: train model k on the examples n where members[k, n] is true, and give "
            "'miabench score' a signals file with these members"
        )
    elif args.command == "upgrade":
        from miabench import record

        for path in record.upgrade_files(args.paths):
            print(f"upgraded {path}")
    elif args.command == "submit":
        from miabench.leaderboard import entries
        from miabench.leaderboard import submit as submission

        for path in submission.submit(args.run_dir, args.by, args.entries or entries.ENTRIES_DIR, args.scores_url):
            print(f"pending entry: {path}")
    elif args.command == "leaderboard":
        leaderboard(args)
    elif args.command == "cite":
        from miabench.leaderboard.cite import bibtex

        print(bibtex(args.task, args.attack, args.defense), end="")
    elif args.command == "vulnerable":
        from tabulate import tabulate

        from miabench import vulnerability

        table = vulnerability.most_vulnerable(args.result, args.fpr, args.top)
        print(f"most vulnerable examples at {args.fpr:g} FPR (caught / times a member of the target):")
        table["vulnerability"] = table["vulnerability"].map("{:.3f}".format)
        print(tabulate(table, headers="keys", tablefmt="github", showindex=False))


def leaderboard(args: argparse.Namespace) -> None:
    from miabench.leaderboard import build, entries, official, site, validate

    if args.action == "validate":
        found = entries.find(args.paths)
        if not found:
            where = ", ".join(map(str, args.paths)) or str(entries.ENTRIES_DIR)
            raise UserError(f"no entries (*.json) under {where}: give entry files or folders of them")
        roots = [root / "entries" for root in args.scores]
        failed = unofficial = 0
        for path in found:
            problems = validate.validate_file(path, validate.scores_for(path, roots))
            failed += bool(problems)
            print(f"ok    {path}" if not problems else "\n".join(f"FAIL  {path}: {line}" for line in problems))
            if not problems:
                reasons = official.reasons(entries.read(path))
                unofficial += bool(reasons)
                print("".join(f"      unofficial (listed apart, not ranked): {line}\n" for line in reasons), end="")
        print(f"{len(found)} entries: {len(found) - failed} valid ({unofficial} of them unofficial), {failed} failed")
        if failed:
            raise UserError(f"{failed} entries failed validation (one line each above); fix or resubmit them")
    elif args.action == "build":
        chosen = build.load(args.paths or None)
        written = site.write_board(chosen, args.out)
        print(f"{len(chosen)} entries -> " + ", ".join(str(path) for path in written))
    elif args.action == "verify":
        from miabench.leaderboard import verify

        line = verify.verify(args.entry, args.by, args.data_dir, args.cache_dir)
        largest = ", ".join(f"{kind} {value:.2g}" for kind, value in line.largest_difference.items())
        print(f"verified: {args.entry} (largest differences: {largest}); commit leaderboard/verified.json")
    elif args.action == "push":
        from miabench.leaderboard import hub

        print(f"published: {hub.push(args.repo, entries.ENTRIES_DIR, create_pr=args.create_pr)}")
    elif args.action == "pull":
        from miabench.leaderboard import hub

        written = hub.pull(args.repo, args.out, force=args.force)
        print(f"entries in {args.out / 'entries'}; rendered: " + ", ".join(str(path) for path in written))


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
    except BrokenPipeError:  # e.g. `miabench list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor when Python flushes stdout at exit
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
