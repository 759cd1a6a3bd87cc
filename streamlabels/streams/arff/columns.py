"""What each attribute's text means once the labels are known: a feature becomes a float, a label
a bool, ``?`` a missing value. The line reader and the vectorised reader, dense or sparse rows,
convert through one :class:`Columns`, so a value reads the same whichever path meets it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from streamlabels.streams.arff.errors import ArffError, Fallback
from streamlabels.streams.arff.header import Attribute

__all__ = ["MISSING", "MISSING_BITS", "Columns"]

# ``?`` (a missing value) inside the block parser: a NaN with a payload of its own, so that a
# value written as NaN in the file stays a value (the model's non-finite policy sees it) while
# ``?`` is left out, as dict iteration does.
MISSING_BITS = np.int64(0x7FF8_DEAD_0000_0001)
MISSING = np.array([MISSING_BITS]).view(np.float64)[0]


def _numeric_label(value: str) -> bool:
    number = float(value)
    if number not in (0.0, 1.0):
        raise ValueError(value)
    return number == 1.0


class Columns:
    """The attributes of a file as features and labels, with each one's conversion.

    Parameters
    ----------
    attributes
        The header's attributes.
    label_idx
        Attribute positions of the labels, in label order.
    path
        The file, for errors.
    """

    def __init__(self, attributes: list[Attribute], label_idx: list[int], path: Path):
        is_label = set(label_idx)
        for i, a in enumerate(attributes):
            if a.kind in ("string", "date") and i not in is_label:
                raise ArffError(
                    path,
                    a.line,
                    f"attribute {a.name!r} has type {a.kind}; only numeric and nominal "
                    "features can be read",
                )
        self.attributes = attributes
        self.n_attr = len(attributes)
        self.label_idx = label_idx
        self.feature_idx = [i for i in range(self.n_attr) if i not in is_label]
        self.convert = [self._converter(a, i in is_label) for i, a in enumerate(attributes)]
        self.feature_of: list[str | None] = [None] * self.n_attr
        for i in self.feature_idx:
            self.feature_of[i] = attributes[i].name
        self.label_of: list[str | None] = [None] * self.n_attr
        for i in label_idx:
            self.label_of[i] = attributes[i].name
        self.features = [(i, attributes[i].name, self.convert[i]) for i in self.feature_idx]
        self.labels = [(i, attributes[i].name, self.convert[i]) for i in label_idx]

    @staticmethod
    def _converter(a: Attribute, is_label: bool):
        if is_label:
            if a.kind == "numeric":
                return _numeric_label
            return {v: v == "1" for v in a.values}.__getitem__
        if a.kind == "numeric":
            return float
        return {v: float(k) for k, v in enumerate(a.values)}.__getitem__

    def problem(self, i: int, value: str) -> str | None:
        """Why ``value`` is not acceptable for attribute ``i`` (``None`` if it is)."""
        a = self.attributes[i]
        if self.label_of[i] is not None:
            try:
                self.convert[i](value)
                return None
            except (KeyError, ValueError):
                if value == "?":
                    return f"label {a.name!r} is missing ('?'); every label must be 0 or 1"
                return (
                    f"label {a.name!r} has value {value!r}; expected 0 or 1 (if column {a.name!r} "
                    "is a feature, the label specification picks the wrong attributes)"
                )
        if value == "?":
            return None
        try:
            self.convert[i](value)
            return None
        except (KeyError, ValueError):
            if a.kind == "numeric":
                return f"attribute {a.name!r} is numeric but the value is {value!r}"
            shown = ",".join(a.values[:10]) + (",..." if len(a.values) > 10 else "")
            return f"value {value!r} of attribute {a.name!r} is not one of {{{shown}}}"

    def value(self, i: int, text: str) -> float:
        """The value of ``text`` for attribute ``i`` in an array (labels as 0/1, ``?`` as
        :data:`MISSING`); ``text`` must be acceptable (see :meth:`problem`)."""
        return MISSING if text == "?" else float(self.convert[i](text))

    def values(self, tokens: list[str], col_of: np.ndarray) -> np.ndarray:
        """:meth:`value` of every token (``col_of``: its attribute), converted in bulk.

        Attributes alike (same role, type and nominal list) convert together: a numeric
        feature column through numpy, anything else through a table of its distinct words.
        Raises :class:`Fallback` at the first unacceptable word, for the line reader to name
        its line.
        """
        tokens = np.array(tokens, dtype=object)
        values = np.empty(len(tokens), dtype=np.float64)
        groups: dict[object, list[int]] = {}
        for i, a in enumerate(self.attributes):
            key = (self.label_of[i] is not None, a.kind, a.values)
            groups.setdefault(key, []).append(i)
        group_of = np.empty(self.n_attr, dtype=np.int64)
        for g, members in enumerate(groups.values()):
            group_of[members] = g
        entry_group = group_of[col_of]
        for g, members in enumerate(groups.values()):
            mask = entry_group == g
            if mask.any():
                values[mask] = self._group_values(members[0], tokens[mask])
        return values

    def _is_numeric_feature(self, i: int) -> bool:
        return self.feature_of[i] is not None and self.attributes[i].kind == "numeric"

    def _group_values(self, i: int, tokens: np.ndarray) -> np.ndarray:
        """Values of raw ``tokens`` (object array) for attribute ``i`` and its look-alikes."""
        if self._is_numeric_feature(i):
            try:
                return tokens.astype(np.float64)
            except ValueError:
                pass
        vocabulary = dict.fromkeys(tokens.tolist())
        for k, token in enumerate(vocabulary):
            vocabulary[token] = k
        ids = np.fromiter(map(vocabulary.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        return self._value_table(i, [w.strip() for w in vocabulary])[ids]

    def _value_table(self, i: int, words: list[str]) -> np.ndarray:
        """The values of ``words`` for attribute ``i`` (and its look-alikes), the missing-value
        NaN for ``?``."""
        missing = np.array([w == "?" for w in words], dtype=bool)
        if self._is_numeric_feature(i):
            try:
                out = np.array(["0" if w == "?" else w for w in words], dtype=np.float64)
            except ValueError:
                raise Fallback from None
        else:
            if any(self.problem(i, w) for w in words):
                raise Fallback
            convert = self.convert[i]
            out = np.array([0.0 if w == "?" else float(convert(w)) for w in words])
        out[missing] = MISSING
        return out

    def split_labels(self, n, rows, cols, values, keep) -> tuple[np.ndarray, ...]:
        """Entries (``rows``, attribute ``cols``, ``values``) to ``Y`` (``n`` rows of labels) and
        the feature entries where ``keep`` holds, as ``(Y, rows, feature columns, values)``."""
        n_features, n_labels = len(self.feature_idx), len(self.label_idx)
        position = np.full(self.n_attr, -1, dtype=np.int64)
        position[self.feature_idx] = np.arange(n_features)
        label_position = np.full(self.n_attr, -1, dtype=np.int64)
        label_position[self.label_idx] = np.arange(n_labels)
        Y = np.zeros((n, n_labels), dtype=bool)
        is_label = label_position[cols] >= 0
        Y[rows[is_label], label_position[cols[is_label]]] = values[is_label] == 1.0
        keep = ~is_label & keep
        return Y, rows[keep], position[cols[keep]], values[keep]
