"""Built-in tasks; importing this package registers them."""

from miabench.tasks import cifar10, fashion_mnist, location, mnist, tabular, text  # noqa: F401
