"""Optional dependencies, asked for by what needs them before it starts.

Drawing (``viz``), the Kafka service (``service``, ``demo``) and the MOA peer (``moa``) need
packages that the core install leaves out. A command checks for them first, so that a missing
one costs one line naming the extra to install, not a traceback at the end of a long run.

>>> require("drawing", "viz", {"math": "math"})  # present: nothing happens
>>> require("drawing", "viz", {"no_such_module_here": "no-such-package"})
Traceback (most recent call last):
...
streamlabels.extras.MissingExtra: drawing needs no-such-package: pip install "streamlabels[viz]"
"""

from __future__ import annotations

import importlib.util

__all__ = ["MissingExtra", "require"]


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says which extra brings it."""


def require(needed_by: str, extra: str, modules: dict[str, str]) -> None:
    """Raise :class:`MissingExtra` unless every module can be imported.

    ``modules`` maps import names to the names pip installs them by (``kafka`` is
    ``kafka-python``). Nothing is imported: the modules are only looked up.
    """
    for module, package in modules.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:  # a finder that refuses the name outright
            found = False
        if not found:
            raise MissingExtra(f'{needed_by} needs {package}: pip install "streamlabels[{extra}]"')
