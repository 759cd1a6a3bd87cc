"""Feature names <-> column ids, and cheap sparse rows for compiled learners.

River models take feature dicts; numba kernels take arrays. A :class:`FeatureSpace` maps each
feature name to a column once (new names get new columns as they appear), so a dict becomes a
:class:`Row` of sorted column ids and float values without any per-learner work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Row:
    """One instance: the original feature dict and its sparse array form."""

    x: dict
    indices: np.ndarray  # int64 column ids, ascending
    values: np.ndarray  # float64, same length as indices


class FeatureSpace:
    """Grows a name -> column mapping as features appear.

    >>> fs = FeatureSpace()
    >>> row = fs.row({"b": 2.0, "a": 1.0})
    >>> row.indices.tolist(), row.values.tolist()
    ([0, 1], [2.0, 1.0])
    >>> fs.row({"a": 3.0, "c": 0.0}).indices.tolist()
    [1, 2]
    >>> fs.names
    ['b', 'a', 'c']
    >>> fs.row({"a": 1.0, "new": 5.0}, grow=False).indices.tolist()
    [1]
    """

    def __init__(self, names: list | None = None):
        self._columns: dict = {}
        self.names: list = []
        for name in names or []:
            self.column(name)

    def __len__(self) -> int:
        return len(self.names)

    def column(self, name) -> int:
        """The column of `name`, adding it when it is new."""
        col = self._columns.get(name)
        if col is None:
            col = len(self.names)
            self._columns[name] = col
            self.names.append(name)
        return col

    def row(self, x: dict, grow: bool = True) -> Row:
        """`x` as a sparse row; features are columns in order of first appearance.

        With ``grow=False`` (prediction must not change a model) unknown features are left out.
        """
        if not grow:
            x_known = {name: value for name, value in x.items() if name in self._columns}
            if len(x_known) < len(x):
                return Row(x, *self._arrays(x_known))
        return Row(x, *self._arrays(x))

    def _arrays(self, x: dict) -> tuple[np.ndarray, np.ndarray]:
        n = len(x)
        indices = np.empty(n, dtype=np.int64)
        values = np.empty(n, dtype=np.float64)
        for i, (name, value) in enumerate(x.items()):
            indices[i] = self.column(name)
            values[i] = value
        if n > 1 and np.any(indices[1:] < indices[:-1]):
            order = np.argsort(indices, kind="stable")
            indices, values = indices[order], values[order]
        return indices, values
