"""Built-in defenses; importing this package registers them."""

from miabench.defenses import l2, none  # noqa: F401
