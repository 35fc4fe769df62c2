"""The Python API: run a spec, score signals, load records; get them back as :class:`Results`.

    import miabench

    results = miabench.evaluate(task="location", attacks=["loss", "lira"], models=8)
    results.frame()                      # one row per attack: AUC, TPR at each FPR, test accuracy
    results["lira"].metrics.auc.mean     # every record field, typed

``evaluate`` takes a :class:`~miabench.spec.RunSpec` or the same fields as keywords (unqualified
parameter names in ``params`` are routed as ``--param`` routes them); ``score`` attacks a
signals file or arrays; ``load`` reads a record, a run folder or a sweep folder from disk.
"""

from __future__ import annotations

from pathlib import Path

from miabench.errors import UserError
from miabench.record import Record


class Results(list):
    """Records, one per attack (and setting), in the order they were made."""

    def __getitem__(self, key):
        if isinstance(key, str):
            matches = [record for record in self if record.attack.name == key]
            if not matches:
                raise KeyError(f"no record of attack '{key}' (have {', '.join(r.attack.name for r in self)})")
            return matches[0] if len(matches) == 1 else Results(matches)
        found = super().__getitem__(key)
        return Results(found) if isinstance(key, slice) else found

    def frame(self):
        """The headline metrics as a pandas DataFrame, one row per record."""
        import pandas as pd

        return pd.DataFrame([record.summary() for record in self])

    def table(self) -> str:
        """The Markdown table ``miabench run`` prints."""
        from miabench.report import results_table

        return results_table(list(self))


def evaluate(spec=None, **fields) -> Results:
    """Train (or load from the cache) and attack the models of one run; ``spec`` or its fields.

    ``params`` may be routed (``{"lira": {"online": False}}``) or flat (``{"lira.online": False,
    "epochs": 3}``). Nothing is written unless ``out`` names a folder.
    """
    from miabench import runner
    from miabench import spec as specs

    if spec is None:
        spec = specs.make(specs.flatten(fields.pop("params", None) or {}), **fields)
    elif fields:
        spec = spec.replace(**fields)
    return Results(runner.run(spec))


def score(signals, attacks, params: dict | None = None, seed: int = 0, out: Path | None = None) -> Results:
    """Attack a signals file (path), a :class:`miabench.signals.Signals`, or a dict of its arrays."""
    from miabench import runner

    return Results(runner.score(signals, attacks, params, seed, out))


def load(path) -> Results:
    """The records in a ``result.json`` file, a run folder (``<attack>/result.json``) or a sweep folder."""
    from miabench import record

    path = Path(path)
    files = [path] if path.is_file() else sorted(path.glob("**/result.json"))
    if not files:
        raise UserError(f"{path} holds no result.json: give a record or the --out folder of a 'miabench run'")
    return Results(record.read(file) for file in files)


__all__ = ["Record", "Results", "evaluate", "load", "score"]
