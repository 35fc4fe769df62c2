"""Recipe tuning: a task's pinned grid, scored on its validation split by a rule fixed in advance.

Every recipe of the grid trains one pair of models, each on half the population as a target
does, and is scored on the validation split carved from the held-out data (never the
population, never an attack). The rule, stated before any score is seen: balanced accuracy
where the task is imbalanced (it flags a class, or its largest class outnumbers its smallest
by more than IMBALANCE), accuracy otherwise; the highest mean over the pair wins, and a tie
goes to the recipe listed first. The winner's utility on the test split is reported beside it.

``miabench tune --task T`` writes one record per task and family under ``results/recipes/``;
``docs/recipes.md`` is rendered from those records (:func:`markdown`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from miabench import engine, measure
from miabench.api import VALIDATION_SHARE, Population, Recipe, Task
from miabench.atomic import write_json
from miabench.errors import UserError
from miabench.harness import Setup, training_job
from miabench.plan import MembershipPlan
from miabench.registry import defenses, tasks

IMBALANCE = 1.5  # largest over smallest class count above which a task is scored by balanced accuracy
RECORDS = Path(__file__).resolve().parent.parent / "results" / "recipes"


def rule(task: Task, population: Population) -> str:
    """The utility the grid is judged by: ``balanced_accuracy`` or ``accuracy``."""
    counts = np.bincount(population.y.numpy(), minlength=task.metadata.num_classes)
    imbalanced = task.metadata.flagged_class is not None or counts.max() > IMBALANCE * max(counts.min(), 1)
    return "balanced_accuracy" if imbalanced else "accuracy"


def grid(task: Task) -> list[Recipe]:
    """The task's grid over its pinned recipe, in the declared order (the first value of each field varies last)."""
    fields = dict(task.recipe_grid)
    if not fields:
        raise UserError(f"task '{task.metadata.name}' declares no recipe grid: give it a recipe_grid to tune")
    base = task.pinned_recipe
    return [dataclasses.replace(base, **dict(zip(fields, values))) for values in itertools.product(*fields.values())]


def utility(models: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, task: Task) -> dict:
    """Accuracy, balanced accuracy and recall (flagged class included) of the pair on ``(x, y)``."""
    predictions = engine.test_logits(models, x).argmax(-1)
    meta = task.metadata
    found = measure.utility_of_predictions(predictions, y.numpy(), meta.num_classes, meta.names, meta.flagged_class)
    return {"accuracy": found["test_accuracy"]["mean"], "balanced_accuracy": found["balanced_accuracy"]["mean"]} | {
        "recall": {name: None if value is None else value["mean"] for name, value in found["recall"].items()}
    }


def evaluate(task: Task, population: Population, recipe: Recipe, seed: int, epochs: tuple[int, ...]) -> list[dict]:
    """The grid points ``recipe`` with each of ``epochs``: the pair's utility on its own members (train),
    the validation and the test split. Under a constant learning rate a shorter run is a prefix of a
    longer one, so one run to the largest count is scored at each; other schedules train each count."""
    if recipe.schedule != "constant" and len(epochs) > 1:
        return [row for count in epochs for row in evaluate(task, population, recipe, seed, (count,))]
    auxiliary = round(task.auxiliary_fraction * len(population))
    plan = MembershipPlan.balanced(2, len(population), seed, auxiliary)
    last = dataclasses.replace(recipe, epochs=max(epochs))
    setup = Setup(task, population, plan, defenses.create("none", {}), last, seed, torch.device("cpu"))
    job = training_job(setup, [0, 1])
    started, rows = time.perf_counter(), []

    def score(epoch: int) -> None:
        if epoch + 1 not in epochs:
            return
        train_logits = engine.predict(job.models, job.x, lambda batch, view: batch, views=1)[:, :, 0]
        correct = (train_logits.argmax(-1) == population.y).numpy()
        rows.append({
            "epochs": epoch + 1,
            "train_accuracy": float(np.mean([correct[k][plan.members[k]].mean() for k in range(2)])),
            "validation": utility(job.models, population.x_val, population.y_val, task),
            "test": utility(job.models, population.x_test, population.y_test, task),
            "seconds": round(time.perf_counter() - started, 2),
        })  # fmt: skip
        job.models.train()  # predicting switched to eval mode

    job.train(on_epoch=score)
    return rows


def tune(task: Task, data_dir: Path | None, seed: int = 0, progress: bool = True) -> dict:
    """Score every recipe of the task's grid; the record of the grid, the scores and the winner."""
    meta = task.metadata
    population = task.load(data_dir, progress).carve_validation(meta.validation_share or VALIDATION_SHARE, meta.name)
    judged_by = rule(task, population)
    varied = list(task.recipe_grid)
    recipes, scored = grid(task), {}
    counts = tuple(sorted({recipe.epochs for recipe in recipes}))
    for recipe in recipes:
        key = dataclasses.replace(recipe, epochs=counts[-1])
        if key not in scored:  # every epoch count of the grid from one run where the schedule allows
            scored[key] = {row["epochs"]: row for row in evaluate(task, population, key, seed, counts)}
            if progress:
                best = max(row["validation"][judged_by] for row in scored[key].values())
                print(f"{meta.name} {task.model_family} {len(scored)}/{len(recipes) // len(counts)}: best validation "
                      f"{judged_by} {best:.4f}", flush=True)  # fmt: skip
    rows = []
    for recipe in recipes:
        row = dict(scored[dataclasses.replace(recipe, epochs=counts[-1])][recipe.epochs])
        del row["epochs"]
        rows.append({"recipe": {name: getattr(recipe, name) for name in varied}} | row)
    winner = int(np.argmax([row["validation"][judged_by] for row in rows]))  # argmax takes the first of a tie
    return {
        "task": meta.name,
        "version": meta.version,
        "family": task.model_family,
        "data_fingerprint": population.fingerprint,
        "examples": {
            "population": len(population),
            "validation": len(population.y_val),
            "test": len(population.y_test),
        },
        "seed": seed,
        "rule": judged_by,
        "base_recipe": dataclasses.asdict(task.pinned_recipe),
        "grid": {name: list(values) for name, values in task.recipe_grid.items()},
        "rows": rows,
        "winner": winner,
        "recipe": dataclasses.asdict(dataclasses.replace(task.pinned_recipe, **rows[winner]["recipe"])),
    }


def record_path(task: str, family: str, root: Path = RECORDS) -> Path:
    return root / f"{task}-{family}.json"


def write(found: dict, root: Path = RECORDS) -> Path:
    path = record_path(found["task"], found["family"], root)
    write_json(path, found)
    return path


def load(root: Path = RECORDS) -> list[dict]:
    """Every tuning record under ``root``, by task and family."""
    return [json.loads(path.read_text()) for path in sorted(root.glob("*.json"))]


def markdown(records: list[dict]) -> str:
    """``docs/recipes.md``: the protocol, then each task's grid with its validation scores and the winner."""
    lines = [
        "# Recipes: how each task's training recipe was chosen",
        "",
        "<!-- written by miabench.tuning.markdown from results/recipes/*.json; do not edit by hand -->",
        "",
        "The protocol (`miabench.tuning`), fixed before any score was seen:",
        "",
        (
            f"- **Validation split**: {VALIDATION_SHARE:.0%} of each task's held-out data, drawn once by the task's "
            "name; never the population, never an attack result. Task versions tuned this way measure utility on "
            "the rest of the held-out data."
        ),
        (
            "- **Grid**: a small pinned grid per model family over the pinned recipe (learning rate, epochs, weight "
            "decay, class weighting by balanced batches). Each point trains one pair of models, each on half the "
            "population as a target does; under a constant learning rate, each epoch count of the grid is read "
            "off one run to the largest. `seconds` is the wall time to reach the point on two shared CPU cores."
        ),
        (
            f"- **Rule**: balanced accuracy where the task is imbalanced (it flags a class, or its largest class "
            f"outnumbers its smallest by more than {IMBALANCE}×), accuracy otherwise; the highest mean over the "
            "pair wins, a tie goes to the point listed first."
        ),
        (
            "- **Report**: the winner's utility on the test split, beside its train accuracy (the generalisation "
            "gap that membership inference feeds on)."
        ),
        "",
        "Re-run one with `miabench tune --task TASK [--family FAMILY]`.",
    ]
    for found in records:
        judged = found["rule"].replace("_", " ")
        varied = list(found["grid"])
        flagged = "flagged" in found["rows"][0]["validation"]["recall"]
        sizes = found["examples"]
        lines += [
            "",
            f"## {found['task']} · {found['family']} (tuned on task version {found['version']})",
            "",
            (
                f"Judged by validation **{judged}**; population {sizes['population']:,}, validation "
                f"{sizes['validation']:,}, test {sizes['test']:,} examples; data `{found['data_fingerprint'][:12]}…`."
            ),
            "",
        ]
        header = [*varied, "train acc.", f"val. {judged}", "val. acc."] + (["val. flagged recall"] if flagged else [])
        header += [f"test {judged}", "seconds"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for i, row in enumerate(found["rows"]):
            cells = [str(row["recipe"][name]) for name in varied]
            val = row["validation"]
            cells += [f"{row['train_accuracy']:.3f}", f"{val[found['rule']]:.3f}", f"{val['accuracy']:.3f}"]
            cells += [f"{val['recall']['flagged']:.3f}"] if flagged else []
            cells += [f"{row['test'][found['rule']]:.3f}", f"{row['seconds']:.1f}"]
            if i == found["winner"]:
                cells = [f"**{cell}**" for cell in cells]
            lines.append("| " + " | ".join(cells) + " |")
        best = found["rows"][found["winner"]]
        test = best["test"]
        summary = f"test accuracy {test['accuracy']:.3f}, balanced accuracy {test['balanced_accuracy']:.3f}"
        if flagged:
            summary += f", flagged recall {test['recall']['flagged']:.3f}"
        lines += ["", f"Winner (bold): {best['recipe']}; on the test split {summary}."]
        known = found["task"] in tasks.names()
        reported = tasks.entry(found["task"]).component_class.metadata.reported_utility if known else ""
        lines += [
            "",
            f"Reported for this dataset: {reported}." if reported else "No comparable published figure found.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m miabench.tuning: render docs/recipes.md from the committed records
    DOC = RECORDS.parent.parent / "docs" / "recipes.md"
    DOC.write_text(markdown(load()))
    print(f"wrote {DOC}")
