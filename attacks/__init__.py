"""Built-in attacks; importing this package registers them."""

from miabench.attacks import (  # noqa: F401
    blind,
    boundary_targeted,
    confidence,
    entropy,
    gap,
    label_only,
    lira,
    loss,
    population,
    reference,
    rmia,
    shadow,
)
