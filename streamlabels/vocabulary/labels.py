"""Label names <-> ids, and targets as the arrays a model learns from.

Targets arrive in the forms river and streams use: a dict ``{label: truth}`` (river; every label,
or only some), a set, list or tuple of the positive labels (the Kafka service's messages), a
DataFrame of label columns, or a bool array. A truth is ``True``/``False``, ``1``/``0`` or one of
the strings ``'1'``/``'0'``/``'true'``/``'false'`` (what river's ARFF and CSV readers yield):
anything else is refused with the label named, never read by Python's truthiness (``'0'`` is a
non-empty string). Inside, a label is an integer id and a target is the sorted array of positive
ids (or a bool row). An unknown label is an error that names it, never a silent skip.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import scipy.sparse

__all__ = ["LabelVocabulary", "label_dicts", "truth_value"]

_STRINGS = {"1": True, "true": True, "0": False, "false": False}


def truth_value(label, value) -> bool:
    """``value`` read as a label's truth, or a ``ValueError`` naming the label.

    >>> truth_value("a", "0"), truth_value("a", "True"), truth_value("a", 1.0)
    (False, True, True)
    >>> truth_value("a", "yes")
    Traceback (most recent call last):
    ...
    ValueError: label 'a' has the value 'yes'; a label's value is True/False, 1/0 or one of the strings '1', '0', 'true', 'false'
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        truth = _STRINGS.get(value.strip().lower())
        if truth is not None:
            return truth
    elif isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return bool(value)
    shown = value.item() if isinstance(value, np.generic) else value
    raise ValueError(
        f"label {label!r} has the value {shown!r}; a label's value is True/False, 1/0 or one of "
        "the strings '1', '0', 'true', 'false'"
    )


def _truths(names: Sequence, values: np.ndarray) -> np.ndarray:
    """Columns of truths (one per name) as a bool array: bools as they are, numbers checked at
    once, anything else value by value."""
    if values.dtype.kind == "b":
        return np.ascontiguousarray(values)
    if values.dtype.kind in "iuf":
        invalid = (values != 0) & (values != 1)
        if invalid.any():
            row, column = np.argwhere(invalid)[0]
            truth_value(names[column], values[row, column])
        return values.astype(bool)
    return np.array(
        [[truth_value(name, v) for name, v in zip(names, row)] for row in values.tolist()],
        dtype=bool,
    ).reshape(values.shape)


def _is_targets(Y) -> bool:
    """Whether ``Y`` is a sequence of targets (dicts, or collections of positive labels) rather
    than rows of truths: a Series, or a list whose first row is a dict, a set or a tuple, or a
    list holding something other than truths."""
    if isinstance(Y, pd.Series):
        return True
    if not isinstance(Y, list) or not Y:
        return False
    first = Y[0]
    if isinstance(first, (dict, set, frozenset, tuple)):
        return True
    return isinstance(first, list) and any(
        not isinstance(v, (bool, int, float, np.bool_, np.number)) for row in Y for v in row
    )


class LabelVocabulary:
    """A fixed, ordered set of distinct labels.

    >>> vocabulary = LabelVocabulary(["a", "b", "c"])
    >>> vocabulary.positives({"c": True, "a": "1", "b": "0"}).tolist()
    [0, 2]
    >>> vocabulary.positives(["c", "a"]).tolist()
    [0, 2]
    >>> vocabulary.positives({"d": True})
    Traceback (most recent call last):
    ...
    ValueError: label 'd' is not in the label vocabulary ['a', 'b', 'c']; pass every label to the model's labels=
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
            f"{what} the label vocabulary {self.names}; pass every label to the model's labels="
        )

    def _id(self, label) -> int:
        label_id = self.ids.get(label)
        if label_id is None:
            raise self._unknown(f"label {label!r} is not in")
        return label_id

    def positives(self, y) -> np.ndarray:
        """The ids of the positive labels of ``y`` (a dict of truths, or a set, list or tuple of
        the positive labels), ascending."""
        if isinstance(y, dict):
            ids = [self._id(label) for label, value in y.items() if truth_value(label, value)]
        elif isinstance(y, (set, frozenset, list, tuple)):
            ids = [self._id(label) for label in y]
        else:
            raise TypeError(
                "y must be a dict {label: truth} or a set, list or tuple of the positive labels, "
                f"got {type(y).__name__}"
            )
        return np.array(sorted(set(ids)), dtype=np.int64)

    def named(self, row: np.ndarray) -> set:
        """The names of the labels a bool row over the vocabulary sets: the positives alone,
        whatever the vocabulary's size.

        >>> LabelVocabulary(["a", "b", "c"]).named(np.array([True, False, True])) == {"a", "c"}
        True
        """
        names = self.names
        return {names[i] for i in np.flatnonzero(row).tolist()}

    def truth(self, y) -> np.ndarray:
        """``y`` as a bool row over the vocabulary."""
        row = np.zeros(len(self.names), dtype=bool)
        row[self.positives(y)] = True
        return row

    @staticmethod
    def names_of(Y) -> list:
        """The labels a batch of targets names: a DataFrame's columns, the first label dict's
        keys (as ``learn_one`` takes them), else column positions. Targets that list only the
        positive labels cannot name them all: the model needs ``labels=`` then."""
        if isinstance(Y, pd.DataFrame):
            return list(Y.columns)
        if _is_targets(Y):
            first = Y.iloc[0] if isinstance(Y, pd.Series) and len(Y) else (Y[0] if len(Y) else {})
            if not isinstance(first, dict):
                raise ValueError(
                    "targets that list the positive labels do not name every label: pass "
                    "labels=[...] to the model"
                )
            return list(first)
        shape = Y.shape if scipy.sparse.issparse(Y) else np.shape(Y)
        if len(shape) != 2:
            raise ValueError(f"Y must be two-dimensional, got shape {shape}")
        return list(range(shape[1]))

    def matrix(self, Y) -> np.ndarray:
        """``Y`` as a bool array over the vocabulary: a DataFrame of label columns, a Series or
        list of targets (as :meth:`positives` reads them; river batches multi-label targets as a
        Series of dicts), or an array in vocabulary order.

        >>> LabelVocabulary(["a", "b"]).matrix(pd.Series([{"b": True}, {"a": True, "b": False}]))
        array([[False,  True],
               [ True, False]])
        >>> LabelVocabulary(["a", "b"]).matrix([["b"], set(), ("a", "b")])
        array([[False,  True],
               [False, False],
               [ True,  True]])
        """
        if _is_targets(Y):
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
            out[:, [self.ids[name] for name in names]] = _truths(names, Y.to_numpy())
            return out
        Y = np.asarray(Y.toarray() if scipy.sparse.issparse(Y) else Y)
        if Y.ndim != 2:
            raise ValueError(f"Y must be two-dimensional, got shape {Y.shape}")
        if Y.shape[1] != len(self.names):
            raise ValueError(
                f"Y has {Y.shape[1]} columns but the model knows {len(self.names)} labels"
            )
        return _truths(self.names, Y)


def label_dicts(Y, labels: Sequence | None) -> Iterator[dict]:
    """One ``{label: bool}`` dict per row of ``Y`` (a DataFrame, or an array in ``labels`` order)."""
    if isinstance(Y, pd.DataFrame):
        columns = list(Y.columns)
        for values in Y.itertuples(index=False, name=None):
            yield {label: bool(v) for label, v in zip(columns, values)}
        return
    if scipy.sparse.issparse(Y):
        Y = Y.toarray()
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(f"Y must be two-dimensional, got shape {Y.shape}")
    if labels is None:
        labels = range(Y.shape[1])
    if len(labels) != Y.shape[1]:
        raise ValueError(f"Y has {Y.shape[1]} columns but the model knows {len(labels)} labels")
    for values in Y.astype(bool).tolist():
        yield dict(zip(labels, values))
