"""The boundary-targeted reproduction note (``docs/boundary-targeted-reproduction.md``), rendered from its records.

Every figure in the note comes from a result record under ``results/``; the paper's own figures
are the constants below. ``python -m miabench.reproduction`` writes the note, and
``tests/test_docs_reproduction.py`` checks that the committed note is this render. A task x
family slots in by adding a :class:`Study` to :data:`STUDIES` once its records exist (and
leaving :data:`PENDING`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from miabench import formats, record
from miabench.registry import tasks

ROOT = Path(__file__).resolve().parents[1]
DOC = Path("docs/boundary-targeted-reproduction.md")

PLAIN = ("loss", "lira", "lira-offline", "rmia", "rmia-online", "reference")  # the plain attacks compared
BASES = ("loss", "rmia-online")  # boundary-targeted's bases in the main runs
SELECTORS = ("references", "target", "model:0")
SIZES = ("per_class", "fraction")  # per_class=20 (the paper's size), fraction=0.1
DEFENSES = ("output-noise", "rounding", "top-k")  # serving-only: they reuse the trained models
DEFENSE_BASE = "rmia-online"  # boundary-targeted's base under the defenses
ALPHA = "0.05"  # TPR at 5% FPR, the paper's operating point

# The paper's figures (Hughes et al., 2026): flagged TPR at 5% FPR of the boundary-targeted attack, and its ratio
# to the best plain attack; the rest of its protocol is in the differences table.
PAPER_TPR, PAPER_RATIO, PAPER_PLAIN = 19.0, 3.5, 5.4  # 5.4 = 19 / 3.5, the plain attacks' flagged TPR
# A classifier that "works", by issue 15's bar: balanced accuracy and flagged recall at least these.
WORKS = (0.72, 0.6)

FAMILY_TEXT = {
    "minilm-head": "an MLP head (384-256-C) over frozen all-MiniLM-L6-v2 sentence embeddings",
    "ngram-mlp": "an MLP (4096-128-C) from scratch over hashed word and character n-grams",
}
TASK_TEXT = {"distress": "single GoEmotions comments, flagged = distress"}


@dataclass(frozen=True)
class Study:
    """One task x family: its plain run, its boundary runs and its defense runs, by the folder convention below."""

    task: str
    family: str
    version: str
    flagged: str  # the flagged class as ``selection`` names it (``class:<name>``)
    defenses: tuple[str, ...] = DEFENSES

    @property
    def title(self) -> str:
        return f"{self.task} · {self.family} (v{self.version})"

    def folder(self, defense: str = "none") -> str:
        return f"results/cpu/{self.task}-v{self.version}-{self.family}-{defense}-K16-seed0"

    def boundary_folder(self, base: str, selector: str, size: str, defense: str = "none") -> str:
        return f"{self.folder(defense)}-boundary/{base}-{selector.replace(':', '')}-{size}"


STUDIES = (
    Study("distress", "minilm-head", "2.0", "class:distress"),
    Study("distress", "ngram-mlp", "2.0", "class:distress"),
)
# Tasks still to study: being tuned (issue 15, deliverable 1), or tuned with their runs to make; each joins STUDIES.
PENDING = (
    ("stress", "Dreaddit; flagged = stress"),
    ("selfharm", "flagged = self-harm"),
    ("depression", "depression-reddit; flagged = depression"),
    ("support", "ESConv; highlighted = severe"),
)
# The untuned classifiers of the first version of this note, kept for the contrast (superseded records).
SUPERSEDED = (
    ("distress", "minilm-head", "results/cpu/distress-minilm-head-none-K16-seed0"),
    ("distress", "ngram-mlp", "results/cpu/distress-ngram-mlp-none-K16-seed0"),
)


class Records:
    """Reads each record once, relative to ``root``, and remembers every one it read (the note lists them)."""

    def __init__(self, root: Path):
        self.root, self.read = root, {}

    def __call__(self, folder: str, attack: str):
        path = f"{folder}/{attack}/result.json"
        if path not in self.read:
            self.read[path] = record.read(self.root / path)
        return self.read[path]


# -- numbers as text --------------------------------------------------------------------------------------------


def pct(summary) -> str:
    return formats.ci(summary.mean, *summary.ci95, digits=2, scale=100)


def flagged_tpr(rec):
    """TPR at 5% FPR on the flagged subgroup (for a subset attack: the flagged candidates it chose)."""
    return rec.metrics_by_subgroup["flagged"].tpr_at_fpr[ALPHA]


def times(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}×" if denominator > 0 else "n/a"


def spread(summary) -> str:
    return f"{summary.mean * 100:.2f} ± {summary.std * 100:.2f}"


def utility_cells(rec) -> list[str]:
    return [spread(rec.utility.balanced_accuracy), spread(rec.utility.recall["flagged"])]


def size_label(rec) -> str:
    params = rec.attack.params
    return f"{params['per_class']} a class" if params.get("per_class") else f"{params['fraction'] * 100:g}% a class"


def side(rec, klass: str, which: str) -> str:
    """Members or non-members of ``klass`` among the chosen candidates: the mean over targets (min–max)."""
    counts = [target.by_class[klass].model_dump()[which] if klass in target.by_class else 0 for target in rec.selection]
    return f"{sum(counts) / len(counts):.1f} ({min(counts)}–{max(counts)})"


def false_positives_allowed(rec, klass: str) -> str:
    """How many of the flagged non-members chosen may score above the threshold at 5% FPR, per target."""
    allowed = [math.floor(float(ALPHA) * target.by_class[klass].non_members + 1e-9)
               for target in rec.selection if klass in target.by_class]  # fmt: skip
    return f"{min(allowed)}" if min(allowed) == max(allowed) else f"{min(allowed)}–{max(allowed)}"


def other_class(study: Study, rec) -> str:
    names = {name for target in rec.selection for name in target.by_class}
    return next(name for name in sorted(names) if name != study.flagged)


def best_plain(records: Records, folder: str):
    """The plain attack with the highest flagged TPR at 5% FPR in ``folder``."""
    return max(((name, records(folder, name)) for name in PLAIN), key=lambda pair: flagged_tpr(pair[1]).mean)


def software(records: Records) -> str:
    """The software state the records were made at, written so that a reader can tell a clean tree from a dirty one."""
    states = sorted({(rec.miabench.version, rec.miabench.commit or "unknown", rec.miabench.dirty)
                     for rec in records.read.values()})  # fmt: skip
    return "; ".join(
        f"miabench {version} at commit `{commit[:12]}`" + (" with uncommitted changes" if dirty else "")
        for version, commit, dirty in states
    )


def folders(records: Records) -> list[tuple[str, str]]:
    """Each folder the note read records from, with the attacks it read there."""
    read: dict[str, list[str]] = {}
    for path in records.read:
        folder, attack, _ = path.rsplit("/", 2)
        read.setdefault(folder, []).append(attack)
    return [(folder, ", ".join(attacks)) for folder, attacks in sorted(read.items())]


# -- sections ---------------------------------------------------------------------------------------------------


def changed_settings(records: Records, study: Study, defense: str) -> dict:
    """The parameters a defense's records ran at that differ from its default."""
    from miabench.registry import defenses

    default = defenses.create(defense)
    used = records(study.folder(defense), PLAIN[0]).defense.params
    return {key: value for key, value in used.items() if getattr(default, key) != value}


def commands(records: Records, study: Study) -> str:
    run = f"miabench run --task {study.task} --family {study.family}"
    changed = {d: changed_settings(records, study, d) for d in study.defenses}
    cases = " ".join(
        f'{d}) extra="{" ".join(f"--param {k}={v}" for k, v in c.items())}";;' for d, c in changed.items() if c
    )
    plain = ",".join(PLAIN)
    boundary = study.folder() + "-boundary"
    lines = [
        f"{run} --attack {plain} --out {study.folder()}",
        f"for base in {' '.join(BASES)}; do for sel in {' '.join(SELECTORS)}; do for size in fraction=0.1 per_class=20; do",
        f"  {run} --attack boundary-targeted --param base=$base --param selector=$sel --param $size \\",
        f"    --out {boundary}/$base-${{sel/:/}}-${{size%%=*}}",
        "done; done; done",
        f"for def in {' '.join(study.defenses)}; do",
        *([f'  case $def in {cases} *) extra="";; esac'] if cases else []),
        f"  {run} --defense $def{' $extra' if cases else ''} --attack {plain} --out {study.folder('$def')}",
        f"  for sel in {' '.join(SELECTORS)}; do for size in fraction=0.1 per_class=20; do",
        f"    {run} --defense $def{' $extra' if cases else ''} --attack boundary-targeted --param base={DEFENSE_BASE} --param selector=$sel \\",
        f"      --param $size --out {study.folder('$def')}-boundary/{DEFENSE_BASE}-${{sel/:/}}-${{size%%=*}}",
        "  done; done",
        "done",
    ]
    return "```bash\n" + "\n".join(lines) + "\n```"


def settings_table(records: Records) -> str:
    rows = []
    for study in STUDIES:
        rec = records(study.folder(), PLAIN[0])
        util = rec.utility
        rows.append([study.task, study.family, rec.task.version, "tuned", spread(util.test_accuracy),
                     spread(util.balanced_accuracy), spread(util.recall["flagged"]), f"`{study.folder()}`"])  # fmt: skip
    for task, what in PENDING:
        meta = tasks.entry(task).component_class.metadata
        status = "tuned, runs not yet made" if meta.validation_share else "recipe not yet tuned"
        version = meta.version if meta.validation_share else "v2 pending"
        rows.append([task, "minilm-head, ngram-mlp", version, f"{status} ({what})", "", "", "", ""])
    headers = ["task", "family", "version", "status", "test accuracy %", "balanced accuracy %", "flagged recall %",
               "records"]  # fmt: skip
    return tabulate(rows, headers=headers, tablefmt="github")


def plain_table(records: Records, study: Study, defense: str = "none") -> str:
    rows = []
    for name in PLAIN:
        rec = records(study.folder(defense), name)
        tpr = flagged_tpr(rec)
        rows.append([name, pct(tpr), tpr.n_nonmembers, pct(rec.metrics.tpr_at_fpr[ALPHA]),
                     formats.ci(rec.metrics.auc.mean, *rec.metrics.auc.ci95, digits=3), *utility_cells(rec)])  # fmt: skip
    headers = ["attack", "flagged TPR% @ 5% FPR", "flagged non-members (fewest of a target)", "TPR% @ 5% FPR (all)",
               "AUC", "balanced accuracy %", "flagged recall %"]  # fmt: skip
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def boundary_rows(records: Records, study: Study, bases, defense: str = "none"):
    """(base, selector, size, the record) for every boundary run of the study under ``defense``."""
    for base in bases:
        for selector in SELECTORS:
            for size in SIZES:
                rec = records(study.boundary_folder(base, selector, size, defense), "boundary-targeted")
                params = rec.attack.params
                assert (params["base"], params["selector"]) == (base, selector), rec  # the folder names the run
                assert (params.get("per_class") is not None) == (size == "per_class"), rec
                assert params["per_class"] == 20 if size == "per_class" else params["fraction"] == 0.1, rec
                # "× its base" divides by the plain record of the base: it must be the same scores on the same models.
                plain = records(study.folder(defense), base)
                assert rec.timings.cache_key == plain.timings.cache_key, (rec, plain)
                assert rec.base_metrics.tpr_at_fpr[ALPHA].mean == plain.metrics.tpr_at_fpr[ALPHA].mean, (rec, plain)
                yield base, selector, rec


def boundary_table(records: Records, study: Study) -> str:
    _, best = best_plain(records, study.folder())
    rows = []
    for base, selector, rec in boundary_rows(records, study, BASES):
        tpr, base_tpr = flagged_tpr(rec), flagged_tpr(records(study.folder(), base))
        other = other_class(study, rec)
        rows.append([
            base, selector, size_label(rec), pct(tpr), times(tpr.mean, base_tpr.mean),
            times(tpr.mean, flagged_tpr(best).mean),
            f"{side(rec, study.flagged, 'members')} / {side(rec, study.flagged, 'non_members')}",
            f"{side(rec, other, 'members')} / {side(rec, other, 'non_members')}",
            false_positives_allowed(rec, study.flagged), rec.metrics_by_subgroup["flagged"].targets,
            f"{pct(rec.metrics.tpr_at_fpr[ALPHA])} ({times(rec.metrics.tpr_at_fpr[ALPHA].mean, rec.base_metrics.tpr_at_fpr[ALPHA].mean)})",
            *utility_cells(rec),
        ])  # fmt: skip
    headers = ["base", "selector", "size", "flagged TPR% @ 5% FPR (chosen)", "× its base", "× best plain",
               "flagged chosen: members / non-members", f"{other.removeprefix('class:')} chosen: members / non-members",
               "false positives allowed at 5% (flagged)", "targets", "TPR% @ 5% FPR, all chosen (× base on all)",
               "balanced accuracy %", "flagged recall %"]  # fmt: skip
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def defense_table(records: Records, study: Study) -> str:
    rows = []
    for defense in ("none", *study.defenses):
        name, best = best_plain(records, study.folder(defense))
        base_tpr = flagged_tpr(records(study.folder(defense), DEFENSE_BASE))
        setting = records(study.folder(defense), PLAIN[0]).defense
        label = defense + "".join(f" {key}={value}" for key, value in setting.params.items())
        cells = []
        for _, _, rec in boundary_rows(records, study, (DEFENSE_BASE,), defense):
            tpr = flagged_tpr(rec)
            defined = rec.metrics_by_subgroup["flagged"].targets
            where = "" if defined == rec.models else f", {defined}/{rec.models} targets"
            cells.append(f"{pct(tpr)} ({times(tpr.mean, base_tpr.mean)}{where})")
        rows.append([label, *utility_cells(best), f"{name} {pct(flagged_tpr(best))}", pct(base_tpr), *cells])
    headers = ["defense", "balanced accuracy %", "flagged recall %", "best plain attack", DEFENSE_BASE]
    headers += [
        f"{selector}, {'20' if size == 'per_class' else '10%'} a class" for selector in SELECTORS for size in SIZES
    ]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def recipe_text(records: Records, study: Study) -> str:
    recipe = records(study.folder(), PLAIN[0]).recipe
    return (f"`{study.family}`, {FAMILY_TEXT[study.family]}: {recipe.epochs} epochs, lr {recipe.lr:g}, weight decay "
            f"{recipe.weight_decay:g}, {'class-balanced' if recipe.balanced_batches else 'plain'} batches")  # fmt: skip


def differences_table(records: Records) -> str:
    study = STUDIES[0]
    rec = records(study.folder(), PLAIN[0])
    rows = [
        ["data", "multi-turn conversations: ESConv and therapy transcripts (needs support) vs benign chat",
         "; ".join(f"`{task}`: {TASK_TEXT[task]}" for task in dict.fromkeys(s.task for s in STUDIES))
         + f"; population N = {rec.examples}, of which {rec.auxiliary} are the attacker's auxiliary set"],
        ["model", ("LLM sequence classifiers (Llama-3.2-1B … gemma-12B), LoRA r = 64, 3 epochs, best checkpoint by "
         "validation loss"),
         "; ".join(recipe_text(records, s) for s in STUDIES) + " (recipes: docs/recipes.md)"],
        ["K (models)", "2: A and B on disjoint halves, each the other's only reference",
         f"{rec.models} on a paired plan; each target attacked in turn, its partner left out of its references"],
        ["selector", "model A, once, for both models (`model:0`)", ("`references` (their mean confidence), `target` "
         "(each its own) and `model:0` (the paper's)")],
        ["size", "20 lowest-p(true label) examples of each label among both halves",
         "20 a class (`per_class=20`) and 10% a class (`fraction=0.1`), among the challenge examples"],
        ["base attacks", "LOSS, p(true label), log-ratio to the partner, logistic logit probe",
         f"{', '.join(BASES)} here (the paper's `partner` base needs K = 2; `confidence` ranks as `loss`)"],
        ["metric", "TPR at 5% FPR on the selected set, ROC threshold set on it",
         ("TPR at 5% FPR on the flagged candidates chosen, threshold set per target on their own non-members; "
         "plain attacks on all flagged candidates")],
        ["recipe", "lr 2e-4 (1B), effective batch 32, cosine schedule, 5% warm-up, bf16",
         "a small pinned grid per family, chosen on a validation split by balanced accuracy"],
        ["uncertainty", "one pair (A and B)", f"mean over {rec.models} targets, bootstrap 95% CI over pairs"],
    ]  # fmt: skip
    return tabulate(rows, headers=["", "paper (Hughes et al., 2026)", "here"], tablefmt="github")


def verdict(records: Records, study: Study) -> str:
    """Whether the boundary set is more exposed than the best plain attack's, stated from the CIs."""
    name, best = best_plain(records, study.folder())
    best_tpr = flagged_tpr(best)
    util = best.utility
    parts = []
    for base, selector, rec in boundary_rows(records, study, BASES):
        if base != DEFENSE_BASE:
            continue
        tpr = flagged_tpr(rec)
        above = tpr.ci95[0] > best_tpr.ci95[1]
        defined = rec.metrics_by_subgroup["flagged"].targets
        where = "" if defined == rec.models else f", on {defined} of {rec.models} targets"
        parts.append(f"`{selector}` at {size_label(rec)} {tpr.mean * 100:.1f}% ({times(tpr.mean, best_tpr.mean)}"
                     f"{', CI above' if above else ', CI overlapping'}{where})")  # fmt: skip
    return (
        f"- **{study.title}**: balanced accuracy {spread(util.balanced_accuracy)}%, flagged recall "
        f"{spread(util.recall['flagged'])}%. The best plain attack, {name}, recovers {best_tpr.mean * 100:.1f}% "
        f"{formats.interval(*best_tpr.ci95, digits=1, scale=100)} of flagged members at 5% FPR; boundary-targeted over "
        f"{DEFENSE_BASE}: " + "; ".join(parts) + "."
    )


def coarseness(records: Records) -> str:
    """What the grain of the per-class figures allows, measured on the records (the paper's size has the same)."""
    chosen, coincide = [], True
    for study in STUDIES:
        for _, _, rec in boundary_rows(records, study, BASES):
            if rec.attack.params.get("per_class") is None:
                continue
            chosen += [t.by_class[study.flagged].non_members for t in rec.selection if study.flagged in t.by_class]
            levels = rec.metrics_by_subgroup["flagged"].tpr_at_fpr
            coincide &= levels["0.001"].mean == levels["0.01"].mean == levels[ALPHA].mean
    allowed = max(math.floor(float(ALPHA) * n + 1e-9) for n in chosen)
    same = ("so TPR at 0.1%, 1% and 5% FPR coincide in every such record" if coincide
            else "so TPR at 0.1%, 1% and 5% FPR differ only where a target's share allows one")  # fmt: skip
    return (
        f"**How coarse the boundary figures are.** At 20 a class a target's chosen flagged candidates hold "
        f"{min(chosen)}–{max(chosen)} of its non-members, so 5% FPR there allows at most {allowed} false "
        f"positive{'' if allowed == 1 else 's'} (the column above: mostly none; the threshold sits above every chosen flagged non-member), {same}. "
        "The paper's 20 a label has the same grain, on one pair. At 10% a class the flagged share is larger and "
        "5% FPR allows some false positives: those figures are the firmer ones. The `references` and `model:0` selectors choose one set "
        "for both models of a pair, so on the paired plan their mean composition is even by construction (a "
        "target's members are its partner's non-members); the range shows how lopsided a single target's is. The "
        "`target` selector picks each target's own least confident candidates, mostly its non-members; a target "
        "whose flagged share then holds no member is left out of the flagged figure (`targets`)."
    )


def defense_summary(records: Records, study: Study) -> str:
    """One line per defense: what it costs in utility and what it takes from the best plain and boundary attacks."""
    none_best = best_plain(records, study.folder())[1]
    none_bt = next(rec for _, selector, rec in boundary_rows(records, study, (DEFENSE_BASE,))
                   if selector == "references" and rec.attack.params.get("per_class"))  # fmt: skip
    parts = []
    for defense in study.defenses:
        name, best = best_plain(records, study.folder(defense))
        bt = next(rec for _, selector, rec in boundary_rows(records, study, (DEFENSE_BASE,), defense)
                  if selector == "references" and rec.attack.params.get("per_class"))  # fmt: skip
        label = defense + "".join(f" {key}={value}" for key, value in best.defense.params.items())
        cost = (best.utility.balanced_accuracy.mean - none_best.utility.balanced_accuracy.mean) * 100
        identical = all(flagged_tpr(records(study.folder(defense), a)).mean == flagged_tpr(records(study.folder(), a)).mean
                        for a in PLAIN)  # fmt: skip
        note = " (identical to no defense: it serves what the model does)" if identical else ""
        parts.append(
            f"`{label}`{note}: balanced accuracy {cost:+.2f} points; best plain flagged TPR "
            f"{flagged_tpr(none_best).mean * 100:.1f}% → {flagged_tpr(best).mean * 100:.1f}% ({name}); boundary-targeted "
            f"(references, 20 a class) {flagged_tpr(none_bt).mean * 100:.1f}% → {flagged_tpr(bt).mean * 100:.1f}%"
        )
    return f"- **{study.title}**: " + "; ".join(parts) + "."


def defaults_note(records: Records) -> list[str]:
    """Say where a defense ran away from its default setting, and why (a default that changes nothing is refused)."""
    from miabench.registry import defenses

    lines = []
    for study in STUDIES:
        for name in study.defenses:
            changed = changed_settings(records, study, name)
            if changed:
                default = defenses.create(name)
                text = ", ".join(f"{key} = {value} (default {getattr(default, key)})" for key, value in changed.items())
                classes = records(study.folder(), PLAIN[0]).classes
                lines.append(f"- `{name}` runs at {text} on {study.title}: at its default it would serve every "
                             f"class of this {classes}-class task, changing nothing, and miabench refuses it.")  # fmt: skip
    return [*lines, ""] if lines else []


def conclusion(records: Records) -> str:
    """The plain statement: where the classifier works (issue 15's bar), is the boundary set more exposed?

    A setting counts only where its flagged figure is defined on every target (the ``target`` selector can
    leave some without a chosen flagged member), and holds where its CI lies wholly above the best plain attack's.
    """
    lines = []
    for study in STUDIES:
        name, best = best_plain(records, study.folder())
        best_tpr = flagged_tpr(best)
        util = best.utility
        works = util.balanced_accuracy.mean >= WORKS[0] and util.recall["flagged"].mean >= WORKS[1]
        rows = [rec for base, _, rec in boundary_rows(records, study, BASES) if base == DEFENSE_BASE]
        judged = [rec for rec in rows if rec.metrics_by_subgroup["flagged"].targets == rec.models]
        above = [rec for rec in judged if flagged_tpr(rec).ci95[0] > best_tpr.ci95[1]]
        ratios = [flagged_tpr(rec).mean / best_tpr.mean for rec in judged]
        if above and len(above) == len(judged):
            said = "the phenomenon holds"
        elif above:
            said = "the phenomenon holds in part"
        else:
            said = "the phenomenon does not show"
        lines.append(
            f"**{study.title}** {'works' if works else 'falls short of the bar'} (balanced accuracy "
            f"{util.balanced_accuracy.mean * 100:.1f}%, flagged recall {util.recall['flagged'].mean * 100:.1f}%; the "
            f"bar is {WORKS[0] * 100:g}% and {WORKS[1] * 100:g}%): {said}. In {len(above)} of the {len(judged)} "
            f"selector × size settings defined on every target ({len(rows)} in all), boundary-targeted over "
            f"{DEFENSE_BASE} puts the chosen flagged candidates' CI above the best plain attack's; the ratios are "
            f"{min(ratios):.2f}–{max(ratios):.2f}× (paper: {PAPER_RATIO:g}×). The ceiling here is "
            f"{1 / best_tpr.mean:.2f}×: the best plain attack, {name}, already recovers {best_tpr.mean * 100:.1f}% of "
            f"flagged members at 5% FPR, where the paper's plain attacks recover ≈ {PAPER_PLAIN:g}%."
        )
    return "\n\n".join(lines)


def superseded(records: Records) -> str:
    rows = []
    for task, family, folder in SUPERSEDED:
        name, best = best_plain(records, folder)
        bt = records(folder, "boundary-targeted")
        params = bt.attack.params
        rows.append([task, family, best.task.version, *utility_cells(best), f"{name} {pct(flagged_tpr(best))}",
                     f"base {params['base']}, 10% a class: {pct(flagged_tpr(bt))}", f"`{folder}`"])  # fmt: skip
    headers = ["task", "family", "version", "balanced accuracy %", "flagged recall %", "best plain attack",
               "boundary-targeted (references)", "records"]  # fmt: skip
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def render(root: Path = ROOT) -> str:
    records = Records(root)
    models = records(STUDIES[0].folder(), PLAIN[0]).models
    assert all(records(study.folder(), PLAIN[0]).models == models for study in STUDIES)
    out = [
        "# Boundary-targeted attacks on safety classifiers that work",
        "",
        (
            "<!-- Rendered by `python -m miabench.reproduction` from the records listed at the end; "
            "tests/test_docs_reproduction.py checks that this file is the render. Edit benchmark/reproduction.py. -->"
        ),
        "",
        "Hughes et al. (2026) report that an adversary who attacks only the conversations a safety classifier is least",
        f"confident on recovers {PAPER_TPR:g}% of the flagged conversations at 5% FPR, {PAPER_RATIO:g}× more than",
        "state-of-the-art attacks alone, whose TPR there is near chance. This note measures the same comparison on",
        "miabench's tuned classifiers (class-balanced batches, recipes chosen on a validation split by balanced",
        "accuracy, `docs/recipes.md`): plain attacks against `boundary-targeted` under the three selectors, at the",
        "paper's size (20 a class) and at 10% a class, on the **flagged** subgroup, with the classifier's utility",
        "beside every row.",
        "",
        "## Classifiers",
        "",
        settings_table(records),
        "",
        f"Utility is the mean ± std over the {models} models on the test split. The pending tasks are being tuned",
        "(issue 15, deliverable 1); each joins this note at its v2, by its folders, with no other change.",
        "",
        "## Commands",
        "",
        "`export MIABENCH_DATA_DIR=...` (the offline data), then for each classifier:",
        "",
        *[f"{study.title}:\n\n{commands(records, study)}\n" for study in STUDIES],
        f"K = {models} models on a paired plan; each is attacked in turn, with the other {models - 2} as references (its training",
        "partner left out). Numbers are means over the targets with bootstrap 95% CIs over pairs. A plain attack's",
        "flagged TPR is over all flagged challenge examples; boundary-targeted's is over the flagged candidates it",
        "chose, with each target's ROC threshold set on the chosen flagged non-members. The defenses only change what",
        "is served, so they reuse the trained models.",
        "",
        "## Result: TPR at 5% FPR on the flagged subgroup",
        "",
    ]
    for study in STUDIES:
        out += [
            f"### {study.title}",
            "",
            "Plain attacks, on every flagged challenge example:",
            "",
            plain_table(records, study),
            "",
            "Boundary-targeted: `× its base` divides by the base attack's flagged TPR on all flagged candidates (the",
            "row above), `× best plain` by the best plain attack's. Composition: the mean over targets (fewest–most).",
            "",
            boundary_table(records, study),
            "",
        ]
    out += [
        coarseness(records),
        "",
        "## Noise defenses on the same subgroup",
        "",
        (
            "Default settings (except as noted), the same trained models, the plain attacks and boundary-targeted over "
            f"{DEFENSE_BASE}; each boundary cell is flagged TPR% at 5% FPR (× {DEFENSE_BASE} under the same defense)."
        ),
        "",
    ]
    for study in STUDIES:
        out += [f"### {study.title}", "", defense_table(records, study), ""]
    out += [
        *[defense_summary(records, study) for study in STUDIES],
        "",
        *defaults_note(records),
        "## How our setting differs from the paper's",
        "",
        differences_table(records),
        "",
        "## Does the phenomenon hold where the classifier generalises?",
        "",
        "\"CI above\": the boundary figure's 95% CI lies wholly above the best plain attack's.",
        "",
        *[verdict(records, study) for study in STUDIES],
        "",
        conclusion(records),
        "",
        "What the ratio compares, here as in the paper: the base attack's scores on the flagged candidates chosen",
        "against the same scores on every flagged candidate. The chosen ones are the flagged texts the models are",
        "least sure of, whose membership moves a model's output most. The boundary figure is a claim about those",
        "candidates, not about every flagged text, and at 20 a class it rests on the few flagged members a target's",
        "share holds (the composition columns).",
        "",
        "The first version of this note measured untuned classifiers that memorised the flagged minority; every",
        "reference-based attack already recovered most flagged members, and the strategy had almost nothing to add:",
        "",
        superseded(records),
        "",
        "## Records",
        "",
        f"Made with {software(records)}; each folder holds a `result.json` (and `scores.npz`) per attack:",
        "",
        *[f"- `{folder}` ({count})" for folder, count in folders(records)],
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    (ROOT / DOC).write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
