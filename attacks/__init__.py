"""Built-in attacks; importing this package registers them."""

from miabench.attacks import lira, loss  # noqa: F401
