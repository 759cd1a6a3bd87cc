"""Rows as the kernels take them: one CSR block (:class:`Rows`), column ids ascending per row.

Dense blocks are passed in the same form (every column listed), so each kernel has one loop over
rows instead of a dense twin and a sparse twin.
"""

from __future__ import annotations

from collections import namedtuple

from streamlabels.kernels.jit import kernel

Rows = namedtuple("Rows", ["indptr", "indices", "values"])
"""CSR arrays: row ``i``'s column ids and values are ``indices[indptr[i]:indptr[i + 1]]`` and
``values[...]`` (int64, int64, float64)."""


@kernel
def row_of(rows, i):
    """Row ``i``'s column ids and values (views)."""
    a = rows.indptr[i]
    b = rows.indptr[i + 1]
    return rows.indices[a:b], rows.values[a:b]
