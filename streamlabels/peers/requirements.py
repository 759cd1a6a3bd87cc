"""What the peers need installed, checked without importing them.

MOA runs in capymoa's JVM (``pip install 'streamlabels[moa]'`` and Java 11+); scikit-multiflow in
an interpreter of its own (``make skmf-env``). ``streamlabels models``, and the checks that
``bench`` and ``replay`` make before running anything, ask here: a module lookup
(:func:`streamlabels.extras.require`), a ``PATH`` search and a file test take milliseconds, where
importing capymoa starts a JVM.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from streamlabels.extras import MissingExtra, require

__all__ = [
    "SkmfUnavailableError",
    "moa_unavailable_reason",
    "skmf_python",
    "skmf_unavailable_reason",
]


class SkmfUnavailableError(OSError):
    """No interpreter with scikit-multiflow, or its worker failed."""


def moa_unavailable_reason() -> str | None:
    """Why MOA cannot run here (no capymoa or jpype, or no Java), or None when it can."""
    try:
        require("the MOA peer", "moa", {"capymoa": "capymoa", "jpype": "jpype1"})
    except MissingExtra as missing:
        return str(missing)
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        return "no Java runtime: neither JAVA_HOME nor java on PATH (MOA needs Java 11+)"
    return None


def skmf_python() -> Path:
    """The scikit-multiflow interpreter; raises with what to do when there is none.

    It is ``STREAMLABELS_SKMF_PYTHON`` if set, else ``.skmf-venv/bin/python`` in the current
    folder or in the streamlabels checkout.
    """
    configured = os.environ.get("STREAMLABELS_SKMF_PYTHON", "").strip()
    if configured:
        candidates = [Path(configured)]
    else:
        checkout = Path(__file__).resolve().parents[2]
        candidates = [Path.cwd() / ".skmf-venv/bin/python", checkout / ".skmf-venv/bin/python"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise SkmfUnavailableError(
        "scikit-multiflow environment not found (looked for "
        + ", ".join(str(c) for c in dict.fromkeys(candidates))
        + "): run `make skmf-env` in the streamlabels checkout, or set STREAMLABELS_SKMF_PYTHON "
        "to a Python that has scikit-multiflow 0.5.3"
    )


def skmf_unavailable_reason() -> str | None:
    """Why the scikit-multiflow peers cannot run here (no interpreter), or None when they can."""
    try:
        skmf_python()
    except SkmfUnavailableError as error:
        return str(error)
    return None
