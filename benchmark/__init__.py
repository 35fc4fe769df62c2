"""miabench: a benchmark for membership inference attacks and defenses on classifiers.

The Python API (``miabench.evaluate``, ``score``, ``load``, ``RunSpec``, ``Results``) is loaded
on first use, so that importing a submodule such as ``miabench.registry`` stays light.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("miabench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

_API = {"evaluate": "results", "score": "results", "load": "results", "Results": "results", "Record": "record",
        "RunSpec": "spec"}  # fmt: skip


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(f"miabench.{_API[name]}"), name)
    raise AttributeError(f"module 'miabench' has no attribute '{name}'")


__all__ = ["Record", "Results", "RunSpec", "__version__", "evaluate", "load", "score"]
