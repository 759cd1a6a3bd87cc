"""CUDA scoring of many rows with one :class:`~streamlabels.kernels.hierarchy.Model`
(numba-cuda); :mod:`streamlabels.scoring.cuda` moves the arrays and launches.

One thread scores one row with :func:`streamlabels.kernels.hierarchy.score_row`, which numba-cuda
compiles for the device from the very source the CPU paths run, so both devices apply the same
transition rule, decision rule and decision layer. A thread's scratch is column ``i`` of the
tile's scratch arrays, each shaped ``(size, threads)``: neighbouring threads touch neighbouring
addresses. Under numba's CUDA simulator the same kernel runs as Python over host arrays.
"""

from __future__ import annotations

from numba import cuda

from streamlabels.kernels import experts, knn
from streamlabels.kernels.hierarchy import Scratch, score_row
from streamlabels.kernels.jit import kernel
from streamlabels.kernels.rows import row_of


@kernel
def thread_scratch(scratch, i):
    """Thread ``i``'s :class:`~streamlabels.kernels.hierarchy.Scratch`: column ``i`` of each
    array of the tile's scratch (the same fields, one more trailing dimension)."""
    s, layer = scratch, scratch.layer
    return Scratch(
        s.routing[:, i], s.old_routing[:, i], s.local[:, i], s.from_shadow[:, i], s.part[:, i],
        s.wanted[:, i], s.meta[:, i], s.target[:, i], s.model_scores[:, i], s.cols[:, i],
        s.xs[:, i],
        experts.Scratch(
            layer.experts[:, :, i], layer.scores[:, i],
            knn.KnnScratch(layer.knn.query[:, i], layer.knn.neighbours[:, i],
                           layer.knn.similarities[:, i], layer.knn.dots[:, i]),
            layer.candidates[:, :, i], layer.choices[:, :, i], layer.taken[:, i],
            layer.calibration[:, :, i], layer.calibrated[:, i], layer.odds[:, i],
        ),
    )


@cuda.jit
def score_rows(rows, model, scratch, out):
    """Score row ``i`` of the :class:`~streamlabels.kernels.rows.Rows` into row ``i`` of the
    :class:`~streamlabels.kernels.hierarchy.Outputs`, one thread per row."""
    i = cuda.grid(1)
    if i < rows.indptr.shape[0] - 1:
        bank, sgd, rule, _, active, shadow, warmup, layer = model
        idx, vals = row_of(rows, i)
        score_row(idx, vals, bank, sgd, rule, active, shadow, warmup, layer,
                  thread_scratch(scratch, i), out, i)
