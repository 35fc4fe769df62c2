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


def named(flag: str, names: list[str] | None) -> list[str] | None:
    """``names``, refused when the flag was given but names nothing (``--attack ,``)."""
    if names == []:
        raise UserError(f"{flag} names nothing; give one or more comma-separated names (see 'miabench list')")
    return names


# Flags of `run` that set a RunSpec field of the same name; None means "not given" (a config file's
# value, else the spec's default, applies).
RUN_FIELDS = ("task", "defense", "models", "seed", "track", "device", "strategy", "models_per_group", "data_dir",
              "cache_dir", "out", "family", "executor", "address")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    import miabench

    main = argparse.ArgumentParser(prog="miabench", description=__doc__.splitlines()[0])
    main.add_argument("--version", action="version", version=f"miabench {miabench.__version__}")
    sub = main.add_subparsers(dest="command", required=True, help="what to do ('miabench COMMAND --help' for more)")

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
    run.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="component parameter, e.g. epochs=3 or lira.online=false; a list (1,4) makes a sweep")  # fmt: skip
    run.add_argument("--grid", action="store_true", help="run each defense's pinned grid ('miabench list NAME' "
                     "shows it) as a sweep, every setting and none attacked by the defense's attack set")  # fmt: skip
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
    run.add_argument("--executor", help="where the groups of models train: local (default) or ray (a Ray cluster; "
                     "pip install 'miabench[ray]')")  # fmt: skip
    run.add_argument("--address", help="with --executor ray: the cluster's address, e.g. auto or HOST:6379 (default: "
                     "a fresh local Ray instance)")  # fmt: skip

    score = sub.add_parser("score", help="attack every model of a signals.npz file, or of a published cube, in turn")
    source = score.add_mutually_exclusive_group(required=True)
    source.add_argument("--signals", type=Path, help="the signals .npz file (logits, labels, members)")
    source.add_argument("--cube", type=Path, help="a cube folder ('miabench signals export' or 'signals pull')")
    source.add_argument("--task", help="the board's cube of this task's setting, by name: local, else pulled")
    score.add_argument("--defense", help="with --task or --cube: the defense (default: none, or the cube's)")
    score.add_argument("--track", default="cpu", help="with --task: the track (default: cpu)")
    score.add_argument("--models", type=int, help="with --task: K (default: the track's)")
    score.add_argument("--repo", help="with --task: the cubes' Hub dataset repo (default: miabench/signal-cubes)")
    score.add_argument("--revision", help="with --task: its revision (default: the one the task version pins)")
    score.add_argument("--cache-dir", type=Path, help="with --task: the cache holding pulled cubes (default: "
                       "$MIABENCH_CACHE_DIR or the user cache)")  # fmt: skip
    score.add_argument("--attack", type=comma_list, required=True, help="comma-separated, or 'all'")
    score.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                       help="attack parameter, e.g. lira.fixed_variance=true (repeatable)")  # fmt: skip
    score.add_argument("--out", type=Path, required=True, help="folder for the records (one subfolder per attack)")
    score.add_argument("--seed", type=int, default=0, help="seed of the bootstrap confidence intervals (with "
                       "--task: the run's seed)")  # fmt: skip

    plan = sub.add_parser("plan", help="write the paired membership plan to train models by, for 'score'")
    plan.add_argument("--models", type=int, required=True, help="K, an even number of models")
    plan.add_argument("--examples", type=int, required=True, help="N, the candidate examples")
    plan.add_argument("--auxiliary", type=int, default=0, help="examples in no model (known non-members)")
    plan.add_argument("--seed", type=int, required=True, help="the seed that draws the memberships")
    plan.add_argument("--out", type=Path, required=True, help="the .npz file to write")

    tune = sub.add_parser("tune", help="score a task's recipe grid on its validation split (docs/recipes.md)")
    tune.add_argument("--task", required=True, help="the task whose pinned grid to run")
    tune.add_argument("--family", help="the model family, for tasks that offer several")
    tune.add_argument("--data-dir", type=Path, help="local dataset folder (default: $MIABENCH_DATA_DIR)")
    tune.add_argument("--out", type=Path, help="folder for the record (default: the repository's results/recipes)")
    tune.add_argument("--seed", type=int, default=0, help="the seed of the pair each recipe trains")

    upgrade = sub.add_parser("upgrade", help="rewrite schema-1 records and entries as schema 2, in place")
    upgrade.add_argument("paths", nargs="+", type=Path, help="result.json files, entry files, or folders of them")

    submit = sub.add_parser("submit", help="validate a run's records and add them as pending leaderboard entries")
    submit.add_argument("run_dir", type=Path, help="the --out folder of a 'miabench run' (or one attack's folder)")
    submit.add_argument("--by", required=True, help="who ran it (name or affiliation), kept in the entry")
    submit.add_argument("--scores-url", help="where the per-example scores files are published")
    submit.add_argument("--entries", type=Path, help="the entries folder (default: the package's leaderboard/entries)")

    board = sub.add_parser("leaderboard", help="validate, build, verify, push or pull the leaderboard")
    board_sub = board.add_subparsers(dest="action", required=True, help="what to do with the entries")
    check = board_sub.add_parser("validate", help="check entries: schema, names, hashes, data, times, ledger, metrics")
    check.add_argument("paths", nargs="*", type=Path, help="entry files or folders (default: every entry)")
    check.add_argument("--scores", type=Path, action="append", default=[], metavar="DIR",
                       help="a published copy (e.g. 'leaderboard pull --out DIR'), whose entries/ holds score files")  # fmt: skip
    render = board_sub.add_parser("build", help="tables (Markdown, CSV, JSON, LaTeX), BibTeX and the web page")
    render.add_argument("--out", type=Path, default=Path("leaderboard-site"), help="output folder")
    render.add_argument("paths", nargs="*", type=Path, help="entry files or folders (default: every entry)")
    check_again = board_sub.add_parser(
        "verify", help="re-run an entry's config (or re-score its cube); record it in the verified ledger if it matches"
    )
    check_again.add_argument("entry", type=Path, nargs="?", help="the entry file (.json) to re-run")
    check_again.add_argument("--all", action="store_true", help="re-run every pending entry, in turn")
    check_again.add_argument("--executor", default="local", help="where models train: local (default) or ray")
    check_again.add_argument("--address", help="with --executor ray: the cluster's address")
    check_again.add_argument("--by", required=True, help="who verified it")
    check_again.add_argument("--data-dir", type=Path, help="local dataset folder (default: $MIABENCH_DATA_DIR)")
    check_again.add_argument("--cache-dir", type=Path, help="signals cache (default: $MIABENCH_CACHE_DIR or the "
                             "user cache)")  # fmt: skip
    publish = board_sub.add_parser("push", help="upload entries, score files and the site to a Hub dataset repo")
    publish.add_argument("--repo", required=True, help="ORG/NAME of the dataset repo (created if needed)")
    publish.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    fetch = board_sub.add_parser("pull", help="download a published leaderboard and render it offline")
    fetch.add_argument("--repo", required=True, help="ORG/NAME of the published dataset repo")
    fetch.add_argument("--out", type=Path, default=Path("leaderboard-pulled"),
                       help="folder for the entries and the rendered board (default: leaderboard-pulled)")  # fmt: skip
    fetch.add_argument("--force", action="store_true", help="replace the entries already in --out")

    cite = sub.add_parser("cite", help="the BibTeX to cite: the benchmark and the named components")
    cite.add_argument("--task", help="a task's name: add its citations")
    cite.add_argument("--attack", help="an attack's name: add its citations")
    cite.add_argument("--defense", help="a defense's name: add its citations")

    cubes = sub.add_parser("signals", help="export, push or pull signal cubes: the board's models as files")
    cubes_sub = cubes.add_subparsers(dest="action", required=True, help="what to do with the cubes")
    export = cubes_sub.add_parser("export", help="write a run's cube, plan, config and dataset card as a cube folder")
    export.add_argument("run_dir", type=Path, nargs="+", help="the --out folder of a 'miabench run' (several: each)")
    export.add_argument("--out", type=Path, required=True, help="where to lay the cube folders out, as the Hub repo "
                        "does: <track>/<task>/<defense>-<cache key>/")  # fmt: skip
    export.add_argument("--cache-dir", type=Path, help="signals cache (default: $MIABENCH_CACHE_DIR or the user cache)")
    standard = cubes_sub.add_parser("standard", help="export the cube of every committed CPU-track run, ready to push")
    standard.add_argument("--out", type=Path, required=True, help="where to lay the cube folders out")
    standard.add_argument("--data-dir", type=Path, help="local dataset folder (default: $MIABENCH_DATA_DIR)")
    standard.add_argument("--cache-dir", type=Path, help="signals cache (default: $MIABENCH_CACHE_DIR or the user "
                          "cache); what it holds is not trained again")  # fmt: skip
    upload = cubes_sub.add_parser("push", help="upload cube folders to a Hub dataset repo in one commit")
    upload.add_argument("dir", type=Path, help="a cube folder, or a folder of them ('signals export --out')")
    upload.add_argument("--repo", required=True, help="ORG/NAME of the dataset repo (created if needed)")
    upload.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    download = cubes_sub.add_parser("pull", help="download the cube folders of a Hub dataset repo, checked")
    download.add_argument("--repo", required=True, help="ORG/NAME of the dataset repo")
    download.add_argument("--out", type=Path, required=True, help="the folder to put them in")
    download.add_argument("--revision", help="a commit, branch or tag (default: the latest)")

    suite = sub.add_parser("suite", help="run a declared matrix of runs in turn and submit them to a local board")
    suite.add_argument("file", type=Path, help="the suite's TOML file (see examples/suite-cpu.toml)")
    suite.add_argument("--executor", help="where the groups of models train: local (default) or ray")
    suite.add_argument("--address", help="with --executor ray: the cluster's address (default: a local instance)")
    suite.add_argument("--out", type=Path, help="folder for the runs and the board (default: the file's out)")
    suite.add_argument("--by", help="who ran it, kept in each entry (default: the file's by)")
    suite.add_argument("--data-dir", type=Path, help="local dataset folder (default: $MIABENCH_DATA_DIR)")
    suite.add_argument("--cache-dir", type=Path, help="signals cache (default: $MIABENCH_CACHE_DIR or the user cache)")
    suite.add_argument("--dry-run", action="store_true", help="list the runs and which are done; train nothing")
    suite.add_argument("--quiet", action="store_true", help="no progress bars nor progress lines")

    vulnerable = sub.add_parser("vulnerable", help="the examples an attack recovers most consistently")
    vulnerable.add_argument("result", type=Path, help="one attack's result folder (holding result.json and "
                            "scores.npz), e.g. miabench-results/.../lira")  # fmt: skip
    vulnerable.add_argument("--fpr", type=float, default=0.01, help="the FPR at which an example counts as caught")
    vulnerable.add_argument("--top", type=int, default=20, help="how many examples to list (default: 20)")
    return main


def run_settings(args: argparse.Namespace) -> tuple[dict, list[str], dict]:
    """The run's fields, defenses and parameter assignments: the config file's, overridden by the flags."""
    from miabench import spec
    from miabench.params import parse_assignments

    named("--attack", args.attack)
    named("--defense", args.defense)
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
    grid = getattr(args, "grid", False)
    if grid or spec.is_sweep(defenses, assignments):
        make_sweep = spec.grid_sweep if grid else spec.sweep
        if out is None:
            models = runner.prepare(make_sweep(defenses, assignments, None, **fields).runs[0][1]).models
            task = fields.get("task", spec.DEFAULT_TASK)
            named_by = [*defenses, "grid"] if grid else defenses
            out = spec.default_sweep_out(task, named_by, assignments, models, fields.get("seed", 0))
        plan = make_sweep(defenses, assignments, out, **fields)

        def finished(name: str, records: list) -> None:
            print(f"\n## {name}\n\n{report.run_summary(records)}\n{written(out / name, records)}", flush=True)

        sweep.run(plan, out, finished)
        print(f"\n## privacy–utility frontier\n\n{(out / 'frontier.md').read_text()}")
        print(f"table, plot and points: {out}/frontier.{{md,png,svg,json}}")
        return
    chosen = spec.make(assignments, defense=defenses[0], **fields)
    prepared = runner.prepare(chosen)  # refuses a bad setting before the default folder is named
    chosen = chosen.replace(out=out or chosen.replace(models=prepared.models).default_out())
    records = runner.run(chosen)
    print(report.run_summary(records))
    print(written(chosen.out, records))


def written(out: Path, records: list) -> str:
    """The lines saying where a run's records and summary went."""
    attacks = ",".join(record.attack.name for record in records)
    return (f"\nrecords written to {out}/ ({{{attacks}}}/result.json and scores.npz)\n"
            f"summary: {out}/summary.md, {out}/summary.csv, ROC plot: {out}/roc.png")  # fmt: skip


def execute(args: argparse.Namespace) -> None:
    if args.command == "list":
        from miabench import catalog

        kinds = (None, *catalog.REGISTRIES)
        print(catalog.listing(args.name) if args.name in kinds else catalog.describe(args.name))
    elif args.command == "run":
        run(args)
    elif args.command == "score" and args.signals is None:  # a published cube: scored as its run was
        from miabench import cubes, report
        from miabench.params import parse_assignments

        records = cubes.score_by(args.attack, parse_assignments(args.param), args.out, args.cube, args.task,
                                 args.defense, args.track, args.models, args.seed, args.cache_dir, args.repo,
                                 args.revision)  # fmt: skip
        print(report.run_summary(records))
        folders = [args.out] if len(records) == 1 else [args.out / record.attack.name for record in records]
        print("\nrecords written to " + ", ".join(str(folder / "result.json") for folder in folders))
    elif args.command == "score":
        from miabench import report, runner
        from miabench.params import parse_assignments, route
        from miabench.registry import attacks
        from miabench.spec import ALL

        names = attacks.names() if args.attack == [ALL] else named("--attack", args.attack)
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
    elif args.command == "tune":
        from miabench import tuning
        from miabench.data import data_dir
        from miabench.registry import tasks

        task = tasks.create(args.task, {} if args.family is None else {"family": args.family})
        found = tuning.tune(task, data_dir(args.data_dir), args.seed)
        path = tuning.write(found, args.out or tuning.RECORDS)
        best = found["rows"][found["winner"]]
        print(f"best by validation {found['rule']}: {best['recipe']} ({best['validation'][found['rule']]:.4f}; test "
              f"{best['test'][found['rule']]:.4f}); record written to {path}")  # fmt: skip
    elif args.command == "upgrade":
        from miabench import record

        for path in record.upgrade_files(args.paths):
            print(f"upgraded {path}")
    elif args.command == "submit":
        from miabench.leaderboard import entries
        from miabench.leaderboard import submit as submission

        for path in submission.submit(args.run_dir, args.by, args.entries or entries.ENTRIES_DIR, args.scores_url):
            print(f"pending entry: {path}")
    elif args.command == "signals":
        from miabench import cubes

        if args.action == "export":
            for run_dir in args.run_dir:
                print(f"cube of {run_dir}: {cubes.export(run_dir, args.out, args.cache_dir)}")
        elif args.action == "standard":
            for folder in cubes.standard(args.out, data_dir=args.data_dir, cache_dir=args.cache_dir):
                print(f"cube: {folder}")
            print(f"publish them with 'miabench signals push {args.out} --repo {cubes.REPO}'")
        elif args.action == "push":
            print(f"published: {cubes.push(args.dir, args.repo, create_pr=args.create_pr)}")
        else:
            for folder in cubes.pull(args.repo, args.out, args.revision):
                print(f"cube: {folder}")
    elif args.command == "suite":
        from miabench import suite

        declared = suite.read(args.file, out=args.out, by=args.by, executor=args.executor, address=args.address,
                              data_dir=args.data_dir, cache_dir=args.cache_dir, progress=not args.quiet)  # fmt: skip
        done = suite.run(declared, quiet=args.quiet, dry_run=args.dry_run)
        if args.dry_run:
            print(f"{done.runs} runs, {done.skipped} of them done; 'miabench suite {args.file}' runs the rest")
        else:
            print(f"{done.runs} runs ({done.skipped} done earlier); {len(done.entries)} entries submitted to "
                  f"{declared.board / 'entries'}; board: {declared.board / 'index.html'}")  # fmt: skip
    elif args.command == "leaderboard":
        leaderboard(args)
    elif args.command == "cite":
        from miabench.leaderboard.cite import bibtex

        print(bibtex(args.task, args.attack, args.defense), end="")
    elif args.command == "vulnerable":
        from tabulate import tabulate

        from miabench import vulnerability

        table = vulnerability.most_vulnerable(args.result, args.fpr, args.top)
        print(f"the {len(table)} most vulnerable examples at {args.fpr * 100:g}% FPR, {vulnerability.RANKING}:\n")
        digits = [".3g" if name == "margin" else ".3f" for name in table.columns]
        print(tabulate(table.to_dict("list"), headers="keys", tablefmt="github", floatfmt=digits))  # keeps ints ints
        print("\n" + "\n".join(f"{name:<14} {vulnerability.LEGEND[name]}" for name in table.columns))


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

        if args.all == (args.entry is not None):
            raise UserError("leaderboard verify takes an entry file or --all (every pending entry), not both")
        if args.all:

            def say(line: str) -> None:
                print(line, file=sys.stderr, flush=True)

            done, failed = verify.verify_all(args.by, None, args.data_dir, args.cache_dir, None, args.executor,
                                             args.address, say)  # fmt: skip
            print("".join(f"not verified: {line}\n" for line in failed), end="")
            print(f"{len(done)} entries verified, {len(failed)} not; commit leaderboard/verified.json")
            if failed:
                raise UserError(f"{len(failed)} entries did not verify (one line each above)")
            return
        line = verify.verify(args.entry, args.by, args.data_dir, args.cache_dir, None, args.executor, args.address)
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
