"""The label vocabulary: label names <-> ids, and targets as the arrays the model learns from.

Targets arrive as river dicts (``{label: bool}``), DataFrames or arrays; inside, a label is an
integer id and a target is the sorted array of positive ids (or a bool row). An unknown label is
an error that names it, never a silent skip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse

__all__ = ["LabelVocabulary"]


class LabelVocabulary:
    """A fixed, ordered set of distinct labels.

    >>> vocabulary = LabelVocabulary(["a", "b", "c"])
    >>> vocabulary.positives({"c": True, "a": True, "b": False}).tolist()
    [0, 2]
    >>> vocabulary.positives({"d": True})
    Traceback (most recent call last):
    ...
    ValueError: label 'd' is not in the label vocabulary ['a', 'b', 'c']; pass every label to IHOMER(labels=...)
    """

    def __init__(self, names: Sequence):
        names = list(names)
        if len(set(names)) != len(names):
            raise ValueError("labels must be distinct")
        self.names = names
        self.ids = {label: i for i, label in enumerate(names)}

    def __len__(self) -> int:
        return len(self.names)

    def _unknown(self, what: str) -> ValueError:
        return ValueError(
            f"{what} the label vocabulary {self.names}; pass every label to IHOMER(labels=...)"
        )

    def positives(self, y: dict) -> np.ndarray:
        """The ids of the positive labels of ``y``, ascending."""
        ids = []
        for label, value in y.items():
            if value:
                label_id = self.ids.get(label)
                if label_id is None:
                    raise self._unknown(f"label {label!r} is not in")
                ids.append(label_id)
        return np.array(sorted(ids), dtype=np.int64)

    @staticmethod
    def names_of(Y) -> list:
        """The labels a batch of targets names: a DataFrame's columns, the first label dict's
        keys (as ``learn_one`` takes them), else column positions."""
        if isinstance(Y, pd.Series):
            return list(Y.iloc[0]) if len(Y) else []
        if isinstance(Y, pd.DataFrame):
            return list(Y.columns)
        shape = Y.shape if scipy.sparse.issparse(Y) else np.shape(Y)
        if len(shape) != 2:
            raise ValueError(f"Y must be two-dimensional, got shape {shape}")
        return list(range(shape[1]))

    def matrix(self, Y) -> np.ndarray:
        """``Y`` (a DataFrame of label columns, a Series of ``{label: bool}`` dicts as river
        batches multi-label targets, or an array in vocabulary order) as a bool array.

        >>> LabelVocabulary(["a", "b"]).matrix(pd.Series([{"b": True}, {"a": True, "b": False}]))
        array([[False,  True],
               [ True, False]])
        """
        if isinstance(Y, pd.Series):
            out = np.zeros((len(Y), len(self.names)), dtype=bool)
            for i, y in enumerate(Y):
                out[i, self.positives(y)] = True
            return out
        if isinstance(Y, pd.DataFrame):
            names = list(Y.columns)
            unknown = [name for name in names if name not in self.ids]
            if unknown:
                raise self._unknown(f"labels {unknown} are not in")
            out = np.zeros((len(Y), len(self.names)), dtype=bool)
            out[:, [self.ids[name] for name in names]] = Y.to_numpy().astype(bool)
            return out
        Y = np.asarray(Y.toarray() if scipy.sparse.issparse(Y) else Y)
        if Y.ndim != 2:
            raise ValueError(f"Y must be two-dimensional, got shape {Y.shape}")
        if Y.shape[1] != len(self.names):
            raise ValueError(
                f"Y has {Y.shape[1]} columns but the model knows {len(self.names)} labels"
            )
        return np.ascontiguousarray(Y.astype(bool))
