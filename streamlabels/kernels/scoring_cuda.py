"""CUDA kernels of the GPU scorer (numba-cuda); :mod:`streamlabels.scoring.cuda` launches them.

Step one runs one thread per (row, slot): the thread computes one learner output's probability
(or copies a constant) for one row, recomputing each scaled feature on the fly, so no per-row
scratch is needed and threads of a warp read the same weight at the same time. Step two runs one
thread per row through :func:`~streamlabels.kernels.scoring_cpu.gather_row` and the decision rule
of :mod:`streamlabels.kernels.decision`, compiled here from their own source, so both devices
apply the same rule.
"""

from __future__ import annotations

import math

from numba import cuda

from streamlabels.kernels import decision, scoring_cpu

gather_row = cuda.jit(device=True)(scoring_cpu.gather_row.py_func)
decide = cuda.jit(device=True)(decision.decide.py_func)
label_scores = cuda.jit(device=True)(decision.label_scores.py_func)


@cuda.jit(device=True)
def _probability(raw, intercept):
    """The learner's sigmoid, with its saturation at |z| > 30."""
    z = raw + intercept
    if z < -30.0:
        return 0.0
    if z > 30.0:
        return 1.0
    return 1.0 / (1.0 + math.exp(-z))


@cuda.jit
def slot_scores_dense(
    X, slot_learner, out_ptr, n_cols, weight_ptr, col_ptr, weights, intercepts, center, scale,
    constants, s,
):
    """``s[i, o]``: slot ``o`` of row ``i`` of the dense ``X``; rows along the grid's x, slots
    along its y."""
    i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if i >= X.shape[0]:
        return
    n_outputs = intercepts.shape[0]
    for o in range(cuda.blockIdx.y, s.shape[1], cuda.gridDim.y):
        if o >= n_outputs:
            s[i, o] = constants[o - n_outputs]
            continue
        lid = slot_learner[o]
        width = n_cols[lid]
        w0 = weight_ptr[lid] + (o - out_ptr[lid]) * width
        c0 = col_ptr[lid]
        raw = 0.0
        for j in range(width):
            sd = scale[c0 + j]
            if sd != 0.0:
                raw += weights[w0 + j] * ((X[i, j] - center[c0 + j]) / sd)
        s[i, o] = _probability(raw, intercepts[o])


@cuda.jit
def slot_scores_csr(
    indptr, indices, values, walk_all, absent, slot_learner, out_ptr, n_cols, weight_ptr, col_ptr,
    weights, intercepts, center, scale, constants, s,
):
    """``s[i, o]`` for CSR rows; with ``walk_all`` (standard scaling) absent columns count as 0,
    their scaled values precomputed in ``absent``."""
    i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if i >= indptr.shape[0] - 1:
        return
    a = indptr[i]
    b = indptr[i + 1]
    n_outputs = intercepts.shape[0]
    for o in range(cuda.blockIdx.y, s.shape[1], cuda.gridDim.y):
        if o >= n_outputs:
            s[i, o] = constants[o - n_outputs]
            continue
        lid = slot_learner[o]
        width = n_cols[lid]
        w0 = weight_ptr[lid] + (o - out_ptr[lid]) * width
        c0 = col_ptr[lid]
        raw = 0.0
        if walk_all:
            p = a
            for j in range(width):
                if p < b and indices[p] == j:
                    sd = scale[c0 + j]
                    if sd != 0.0:
                        raw += weights[w0 + j] * ((values[p] - center[c0 + j]) / sd)
                    p += 1
                else:
                    raw += weights[w0 + j] * absent[c0 + j]
        else:
            for p in range(a, b):
                j = indices[p]
                if j >= width:
                    break
                sd = scale[c0 + j]
                if sd != 0.0:
                    raw += weights[w0 + j] * ((values[p] - center[c0 + j]) / sd)
        s[i, o] = _probability(raw, intercepts[o])


@cuda.jit
def combine(
    s, theta, group_nonempty, ensure_nonempty, route_ptr, route_slots, group_ptr, group_labels,
    label_slot, label_gate, routing, local, want_proba, proba, labels,
):
    """iHOMER's scores or labels of every row from its slots; one thread per row."""
    i = cuda.grid(1)
    if i < s.shape[0]:
        gather_row(s[i], theta, route_ptr, route_slots, label_slot, label_gate, routing[i], local[i])
        if want_proba:
            label_scores(routing[i], local[i], group_ptr, group_labels, proba[i])
        else:
            decide(
                routing[i], local[i], group_ptr, group_labels, theta, group_nonempty,
                ensure_nonempty, labels[i],
            )
