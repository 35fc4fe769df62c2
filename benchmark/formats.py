"""Numbers as text, written one way everywhere: a mean with its 95% confidence interval, ``0.512 [0.498, 0.527]``."""

from __future__ import annotations

import math

import pandas as pd

NA = "n/a"


def missing(value) -> bool:
    """None, NaN or pandas' NA: a number that was not measured."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def fixed(value, digits: int, scale: float = 1) -> str:
    """``value * scale`` with ``digits`` decimals, or n/a."""
    return NA if missing(value) else f"{value * scale:.{digits}f}"


def interval(lo, hi, digits: int, scale: float = 1) -> str:
    """``[lo, hi]`` written like their mean, or "" when a bound is missing."""
    if missing(lo) or missing(hi):
        return ""
    return f"[{fixed(lo, digits, scale)}, {fixed(hi, digits, scale)}]"


def ci(mean, lo, hi, digits: int, scale: float = 1) -> str:
    """The mean and its interval (``scale=100`` for a fraction shown as a percentage); n/a without a mean."""
    if missing(mean):
        return NA
    return " ".join(part for part in (fixed(mean, digits, scale), interval(lo, hi, digits, scale)) if part)
