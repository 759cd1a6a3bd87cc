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

    def get_state(self) -> dict:
        """The names in column order: all a restored space needs to map rows identically.

        >>> FeatureSpace.from_state(FeatureSpace(["b", "a"]).get_state()).row({"a": 1.0}).indices
        array([1])
        """
        return {"names": list(self.names)}

    @classmethod
    def from_state(cls, state: dict) -> FeatureSpace:
        """A space restored from :meth:`get_state`'s output."""
        return cls(state["names"])

    def row(self, x: dict, grow: bool = True) -> Row:
        """`x` as a sparse row; features are columns in order of first appearance.

        With ``grow=False`` (prediction must not change a model) unknown features are left out.
        """
        get = self._columns.get
        columns = [get(name) for name in x]
        if None in columns:
            if not grow:
                known = {name: v for name, v in x.items() if name in self._columns}
                return Row(x, *self._arrays([get(name) for name in known], known.values()))
            columns = [self.column(name) for name in x]
        return Row(x, *self._arrays(columns, x.values()))

    @staticmethod
    def _arrays(columns: list, values) -> tuple[np.ndarray, np.ndarray]:
        indices = np.array(columns, dtype=np.int64)
        values = np.fromiter(values, dtype=np.float64, count=len(columns))
        if len(indices) > 1 and np.any(indices[1:] < indices[:-1]):
            order = np.argsort(indices, kind="stable")
            indices, values = indices[order], values[order]
        return indices, values
