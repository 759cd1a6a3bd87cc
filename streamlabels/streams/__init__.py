"""Streams of (x, y) pairs: ARFF files (MULAN / MEKA), named benchmark datasets, synthetic drift."""

from __future__ import annotations

from streamlabels.streams import datasets
from streamlabels.streams.arff import ArffError, ArffStream, LabelSpecError, load_arff

__all__ = [
    "ArffError",
    "ArffStream",
    "Drift",
    "LabelSpecError",
    "SyntheticStream",
    "datasets",
    "load_arff",
]


def __getattr__(name: str):
    # The synthetic stream needs river.datasets (which imports scikit-learn, over a second):
    # imported on first use, so reading files starts fast.
    if name in ("Drift", "SyntheticStream"):
        from streamlabels.streams import synthetic

        return getattr(synthetic, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
