"""Compiled CPU scoring of a block of rows with one :class:`~streamlabels.kernels.hierarchy.Model`.

Each row is scored by :func:`streamlabels.kernels.hierarchy.score_row`, the kernel the fused
test-then-train run and the GPU scorer use, so a batch gets ``score_one``'s answers bit for bit.
Nothing is learned, so the model may be a live one or a frozen snapshot, and several threads may
score blocks of one batch at once: the kernel releases the GIL
(:func:`streamlabels.scoring.batch.score_model` hands out the blocks).
"""

from __future__ import annotations

from streamlabels.kernels.hierarchy import new_scratch, score_row
from streamlabels.kernels.jit import kernel
from streamlabels.kernels.rows import row_of


@kernel(nogil=True)
def score_rows(rows, model, start, stop, out):
    """Score rows ``start .. stop - 1`` into the :class:`~streamlabels.kernels.hierarchy.Outputs`
    ``out``, with scratch of their own. Labels alone skip the learners of groups not routed."""
    scratch = new_scratch(model)
    bank, sgd, rule, _, active, shadow, warmup, layer = model
    for i in range(start, stop):
        idx, vals = row_of(rows, i)
        score_row(idx, vals, bank, sgd, rule, active, shadow, warmup, layer, scratch, out, i)
