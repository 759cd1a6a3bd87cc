"""Streams of (x, y) pairs: ARFF files (MULAN / MEKA), named benchmark datasets, synthetic drift."""

from __future__ import annotations

from streamlabels.streams import datasets
from streamlabels.streams.arff import ArffError, ArffStream, LabelSpecError, load_arff
from streamlabels.streams.synthetic import Drift, SyntheticStream

__all__ = [
    "ArffError",
    "ArffStream",
    "Drift",
    "LabelSpecError",
    "SyntheticStream",
    "datasets",
    "load_arff",
]
