"""Built-in tasks; importing this package registers them."""

from miabench.tasks import location, mnist, text  # noqa: F401
