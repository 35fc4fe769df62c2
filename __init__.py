"""The root of a miabench checkout, made to import as the real package.

Python takes this folder for a package named ``miabench`` when it runs from the folder that
holds a clone named ``miabench`` (ahead of the installed package). So that such an import
still gives miabench, the folder maps itself as pyproject.toml does: the core in
``benchmark/``, the subpackages (tasks, attacks, defenses, leaderboard) beside it.
"""

from pathlib import Path as _Path

_ROOT = _Path(__file__).resolve().parent
__path__ = [str(_ROOT / "benchmark"), str(_ROOT)]
exec(compile((_ROOT / "benchmark" / "__init__.py").read_text(encoding="utf-8"), __file__, "exec"))  # noqa: S102
