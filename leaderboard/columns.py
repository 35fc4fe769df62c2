"""The columns of a leaderboard table, each defined once: Markdown, LaTeX and the web page all render this list.

A column shows one field of the rows table (:func:`miabench.leaderboard.build.rows`): its header, how its
value reads as text, whether it is a number (sorted as one, aligned right) and when a table shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tabulate import tabulate

from miabench import formats

# (column, FPR key in the record, label): TPRs shown as percentages.
TPR_LEVELS = (("tpr_0.1", "0.001", "0.1%"), ("tpr_1", "0.01", "1%"), ("tpr_5", "0.05", "5%"))


def _always(rows: list[dict]) -> bool:
    return True


def several_families(rows: list[dict]) -> bool:
    return len({row["model_family"] for row in rows}) > 1


def _any_flagged(rows: list[dict]) -> bool:
    return any(not formats.missing(row["flagged_tpr_5"]) for row in rows)


def stated(key: str) -> Callable[[list[dict]], bool]:
    """Whether any of the rows states ``key`` (a text field that is "" where it does not apply)."""
    return lambda rows: any(isinstance(row.get(key), str) and row[key] for row in rows)


@dataclass(frozen=True)
class Column:
    key: str  # the field of the rows table: the cell's value, and what the page sorts by
    header: str
    numeric: bool = False
    digits: int | None = None  # a measured number, written with this many decimals (n/a when missing)
    ci: bool = False  # written with its 95% CI, from the fields <key>_lo and <key>_hi
    when: Callable[[list[dict]], bool] = _always  # whether a table of these rows shows the column

    def missing(self, row: dict) -> bool:
        return formats.missing(row[self.key])

    def parts(self, row: dict) -> tuple[str, str]:
        """(value, CI) as text; the CI is "" for a column without one. The page sets the CI apart."""
        if not self.ci or self.missing(row):
            return self.text(row), ""
        lo, hi = row[f"{self.key}_lo"], row[f"{self.key}_hi"]
        return formats.fixed(row[self.key], self.digits), formats.interval(lo, hi, self.digits)

    def text(self, row: dict) -> str:
        """The cell as plain text; each format escapes it its own way."""
        value = row[self.key]
        if self.ci:
            return formats.ci(value, row[f"{self.key}_lo"], row[f"{self.key}_hi"], self.digits)
        if self.digits is not None:
            return formats.fixed(value, self.digits)
        return "" if formats.missing(value) else str(value)

    def sort_value(self, row: dict) -> str:
        """What the page sorts the column by: a number, or the lower-cased text; "" when missing (sorted last)."""
        value = row[self.key]
        if formats.missing(value):
            return ""
        if not self.numeric:
            return str(value).lower()
        return repr(float(value)) if self.digits is not None else str(int(value))


RANK = Column("rank", "rank", numeric=True)
APART = Column("apart", "not ranked because")  # in place of the rank, for the rows listed apart

TABLE = (
    RANK,
    Column("attack", "attack"),
    Column("attack_package", "attack package", when=stated("attack_package")),  # a third-party attack's
    Column("scored_from", "scored from", when=stated("scored_from")),  # a published signal cube, not trained
    Column("defense", "defense"),
    Column("model_family", "model", when=several_families),
    Column("auc", "AUC [95% CI]", numeric=True, digits=3, ci=True),
    *(Column(col, f"TPR% @ {label} FPR", numeric=True, digits=2, ci=True) for col, _, label in TPR_LEVELS),
    Column("flagged_tpr_5", "flagged TPR% @ 5% FPR", numeric=True, digits=2, ci=True, when=_any_flagged),
    Column("test_accuracy", "test acc %", numeric=True, digits=2),
    Column("K", "K", numeric=True),
    Column("status", "status"),
)


def shown(rows: list[dict], apart: bool = False) -> list[Column]:
    """The columns of a table of these rows; a table of rows listed apart shows why, not a rank."""
    return [APART if apart and column is RANK else column for column in TABLE if column.when(rows)]


def md_cell(text) -> str:
    """A Markdown table cell that shows its text and nothing else: no HTML, no extra column, one line."""
    text = " ".join(str(text).split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def github(rows: list[dict], shown_columns: list[Column]) -> str:
    """The rows as a GitHub Markdown table of these columns, every cell escaped."""
    cells = [[md_cell(column.text(row)) for column in shown_columns] for row in rows]
    headers = [md_cell(column.header) for column in shown_columns]
    return tabulate(cells, headers=headers, tablefmt="github", disable_numparse=True)
