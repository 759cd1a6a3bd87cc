"""GPU scoring host side: moves a snapshot and a batch to the device, in tiles, and launches.

Importing this module imports ``numba.cuda``; :func:`streamlabels.scoring.predict_many` does so
only for ``device="cuda"``. Without a GPU, set ``NUMBA_ENABLE_CUDASIM=1`` before numba is
imported to run the same kernels in numba's simulator (slow; for tests on small inputs).
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from streamlabels.kernels import scoring_cuda as kernels
from streamlabels.scoring.rows import Batch
from streamlabels.scoring.snapshot import Snapshot

__all__ = ["score"]

TILE_BYTES = 1 << 28  # device scratch per tile: the slot matrix, routing and local scores
_THREADS = 128  # rows per block
_MAX_GRID_Y = 65535  # CUDA's limit on blocks along y; the kernels stride over further slots


def _tile_rows(snapshot: Snapshot, n_rows: int) -> int:
    per_row = 8 * (snapshot.n_slots + snapshot.n_groups + 2 * snapshot.n_labels)
    return max(1, min(n_rows, TILE_BYTES // per_row))


def score(snapshot: Snapshot, batch: Batch, want_proba: bool) -> np.ndarray:
    """Scores (``want_proba``) or labels of every row of ``batch``, shape ``(n, n_labels)``.

    Raises ``RuntimeError`` when no CUDA device (nor the simulator) is available.
    """
    if not cuda.is_available():
        raise RuntimeError(
            "device='cuda' needs a CUDA GPU with numba-cuda (pip install 'streamlabels[gpu]'); "
            "set NUMBA_ENABLE_CUDASIM=1 before importing numba to use the simulator instead"
        )
    s = snapshot
    n, n_labels = batch.n_rows, s.n_labels
    out = np.empty((n, n_labels), dtype=np.float64 if want_proba else np.bool_)
    if n == 0:
        return out
    learners = [
        cuda.to_device(np.ascontiguousarray(a))
        for a in (
            s.slot_learner, s.out_ptr, s.n_cols, s.weight_ptr, s.col_ptr, s.weights, s.intercepts,
            s.center, s.scale, s.constants,
        )
    ]
    tables = [
        cuda.to_device(np.ascontiguousarray(a))
        for a in (s.route_ptr, s.route_slots, s.group_ptr, s.group_labels, s.label_slot,
                  s.label_gate)
    ]
    tile = _tile_rows(s, n)
    threads = min(_THREADS, tile)
    for start in range(0, n, tile):
        stop = min(n, start + tile)
        m = stop - start
        slots = cuda.device_array((m, s.n_slots))
        grid = ((m + threads - 1) // threads, min(s.n_slots, _MAX_GRID_Y))
        if batch.dense:
            kernels.slot_scores_dense[grid, (threads, 1)](
                cuda.to_device(batch.X[start:stop]), *learners, slots
            )
        else:
            a, b = batch.indptr[start], batch.indptr[stop]
            kernels.slot_scores_csr[grid, (threads, 1)](
                cuda.to_device(batch.indptr[start : stop + 1] - a),
                cuda.to_device(batch.indices[a:b]),
                cuda.to_device(batch.values[a:b]),
                s.scaling == "standard",
                cuda.to_device(np.ascontiguousarray(s.absent)),
                *learners,
                slots,
            )
        result = cuda.device_array((m, n_labels), dtype=out.dtype)
        unused = cuda.device_array((m, 0), dtype=np.bool_ if want_proba else np.float64)
        proba, labels = (result, unused) if want_proba else (unused, result)
        kernels.combine[(m + threads - 1) // threads, threads](
            slots, s.theta_route, s.group_nonempty, s.ensure_nonempty, *tables,
            cuda.device_array((m, s.n_groups)), cuda.device_array((m, n_labels)), want_proba,
            proba, labels,
        )
        result.copy_to_host(out[start:stop])
    return out
