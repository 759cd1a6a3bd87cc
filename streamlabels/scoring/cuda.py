"""GPU scoring host side: moves a snapshot and a batch to the device, in tiles, and launches.

Importing this module imports ``numba.cuda``; the scorers import it only for ``device="cuda"``.
Without a GPU, set ``NUMBA_ENABLE_CUDASIM=1`` before numba is imported to run the same kernel in
numba's simulator (slow; for tests on small inputs): its kernels run as Python that calls the
compiled CPU functions, so there the arrays stay on the host.
"""

from __future__ import annotations

import numpy as np
from numba import config, cuda

from streamlabels.kernels import scoring_cuda as kernels
from streamlabels.kernels.hierarchy import Outputs, new_scratch
from streamlabels.kernels.rows import Rows
from streamlabels.scoring.snapshot import Snapshot

__all__ = ["score"]

TILE_BYTES = 1 << 28  # device scratch and outputs per tile of rows
_THREADS = 128  # rows per block


def _tree(f, parts):
    """``parts`` (a named tuple, possibly nested) with ``f`` applied to every array in it."""
    if isinstance(parts, tuple):
        return type(parts)(*(_tree(f, part) for part in parts))
    return f(parts) if isinstance(parts, np.ndarray) else parts


def _arrays(parts) -> list[np.ndarray]:
    if isinstance(parts, tuple):
        return [a for part in parts for a in _arrays(part)]
    return [parts] if isinstance(parts, np.ndarray) else []


def score(snapshot: Snapshot, rows: Rows, out: Outputs) -> None:
    """Score the rows into ``out`` (host arrays), as :func:`streamlabels.scoring.score_many`.

    Raises ``RuntimeError`` when no CUDA device (nor the simulator) is available.
    """
    if not cuda.is_available():
        raise RuntimeError(
            "device='cuda' needs a CUDA GPU with numba-cuda (pip install 'streamlabels[gpu]'); "
            "set NUMBA_ENABLE_CUDASIM=1 before importing numba to use the simulator instead"
        )
    n = rows.indptr.shape[0] - 1
    if n == 0:
        return
    on_host = config.ENABLE_CUDASIM
    send = np.ascontiguousarray if on_host else cuda.to_device
    model = _tree(lambda a: send(np.ascontiguousarray(a)), snapshot.model)
    template = new_scratch(snapshot.model)  # one row's scratch, for shapes and dtypes
    per_row = sum(a.nbytes for a in _arrays(template)) + 17 * snapshot.n_labels
    tile = max(1, min(n, TILE_BYTES // max(per_row, 1)))
    want_scores = out.scores.shape[0] > 0
    for start in range(0, n, tile):
        stop = min(n, start + tile)
        m = stop - start
        a, b = rows.indptr[start], rows.indptr[stop]
        part = Rows(rows.indptr[start : stop + 1] - a, rows.indices[a:b], rows.values[a:b])
        scratch = _tree(lambda t: send(np.zeros(t.shape + (m,), dtype=t.dtype)), template)
        result = Outputs(
            np.zeros((m, snapshot.n_labels), dtype=bool),
            np.zeros((m, snapshot.n_labels), dtype=bool),
            np.zeros((m if want_scores else 0, snapshot.n_labels)),
        )
        device_result = _tree(send, result)
        threads = min(_THREADS, m)
        kernels.score_rows[(m + threads - 1) // threads, threads](
            _tree(send, part), model, scratch, device_result
        )
        for host, device in zip(result, device_result):
            host[:] = device if on_host else device.copy_to_host()
        out.labels[start:stop], out.own[start:stop] = result.labels, result.own
        if want_scores:
            out.scores[start:stop] = result.scores
