"""A stream held in memory as arrays: for shuffled replays and benchmarks, which need it whole.

Arrays cost a fraction of the memory of a list of dicts and feed a batched model directly; the
dicts that iteration yields are exactly the source stream's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import scipy.sparse

from streamlabels.vocabulary import dicts_to_csr, feature_dicts

__all__ = ["ArrayStream"]


class ArrayStream:
    """Rows of ``X`` (CSR, columns named ``feature_names``) with labels ``Y`` (bool, columns
    ``label_names``), iterable as ``(x, y)`` dicts and readable in blocks with :meth:`batches`.

    Examples
    --------
    >>> stream = [({"a": 1.0}, {"p": True, "q": False}), ({"b": 0.0}, {"p": False, "q": True})]
    >>> arrays = ArrayStream.read(stream, feature_names=[], label_names=["p", "q"])
    >>> list(arrays) == stream, arrays.feature_names
    (True, ['a', 'b'])
    >>> [y for _, y in arrays.permuted(seed=3)]
    [{'p': False, 'q': True}, {'p': True, 'q': False}]
    """

    def __init__(
        self, X: scipy.sparse.csr_array, Y: np.ndarray, feature_names: Sequence,
        label_names: Sequence,
    ):
        if X.shape[0] != Y.shape[0] or X.shape[1] != len(feature_names):
            raise ValueError("X, Y and the names must agree in shape")
        self.X = scipy.sparse.csr_array(X)
        self.Y = np.asarray(Y, dtype=bool)
        self.feature_names = list(feature_names)
        self.label_names = list(label_names)

    @classmethod
    def read(
        cls, stream, n: int | None = None, feature_names: Sequence | None = None,
        label_names: Sequence | None = None,
    ) -> ArrayStream:
        """The first ``n`` instances of ``stream`` (all by default).

        A stream with ``batches`` (an ARFF file) is read block by block; any other is read as
        dicts, its names taken from the arguments, else from the stream's attributes (features
        that are not named up front get columns as they appear).
        """
        features = list(stream.feature_names if feature_names is None else feature_names)
        labels = list(stream.label_names if label_names is None else label_names)
        if hasattr(stream, "batches"):
            Xs, Ys, left = [], [], n
            for X, Y in stream.batches(10_000 if n is None else max(1, min(n, 10_000))):
                if left is not None:
                    X, Y, left = X[:left], Y[:left], left - min(left, Y.shape[0])
                Xs.append(X)
                Ys.append(Y)
                if left == 0:
                    break
            empty = scipy.sparse.csr_array((0, len(features)))
            X = scipy.sparse.vstack(Xs, format="csr") if Xs else empty
            Y = np.concatenate(Ys) if Ys else np.zeros((0, len(labels)), dtype=bool)
            return cls(X, Y, features, labels)
        columns = {name: j for j, name in enumerate(features)}
        xs, ys = [], []
        for i, (x, y) in enumerate(stream):
            if n is not None and i >= n:
                break
            xs.append(x)
            ys.append([bool(y.get(label, False)) for label in labels])
        X = dicts_to_csr(xs, columns)
        return cls(X, np.array(ys, dtype=bool).reshape(-1, len(labels)), list(columns), labels)

    def permuted(self, seed: int) -> ArrayStream:
        """The rows in the order of ``numpy.random.default_rng(seed).permutation``."""
        order = np.random.default_rng(seed).permutation(len(self))
        return ArrayStream(self.X[order], self.Y[order], self.feature_names, self.label_names)

    def __len__(self) -> int:
        return self.Y.shape[0]

    def __iter__(self) -> Iterator[tuple[dict, dict]]:
        labels = self.label_names
        for x, y in zip(feature_dicts(self.X, self.feature_names), self.Y.tolist()):
            yield x, dict(zip(labels, y))

    def batches(self, size: int = 1000) -> Iterator[tuple[scipy.sparse.csr_array, np.ndarray]]:
        """Blocks of ``size`` rows: ``(X, Y)``, as :meth:`ArffStream.batches` gives them."""
        for start in range(0, len(self), size):
            yield self.X[start : start + size], self.Y[start : start + size]
