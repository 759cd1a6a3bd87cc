"""Compiled test-then-train of a whole iHOMER model over a run of rows between two test points.

One call does, for each row in order, what ``predict_one`` then ``learn_one`` do to the learners
of the active hierarchy (and of the previous one while it is a shadow) and to the decision layer,
or ``predict_one`` alone when it does not learn, with the same floating-point operations in the
same order: the row is scored by :func:`streamlabels.kernels.hierarchy.score_row` and learned by
:func:`streamlabels.kernels.hierarchy.learn_row`. The label tree and the loss detector never feed
back into the learners between two of the tree's test points, so the Python side updates them
afterwards (:mod:`streamlabels.ihomer.compiled`).
"""

from __future__ import annotations

from streamlabels.kernels.hierarchy import learn_row, new_scratch, score_row
from streamlabels.kernels.jit import kernel
from streamlabels.kernels.rows import row_of


@kernel
def predict_learn_rows(rows, Y, model, out, learn):
    """Score each of the :class:`~streamlabels.kernels.rows.Rows` into the
    :class:`~streamlabels.kernels.hierarchy.Outputs` ``out``, then, with ``learn``, learn it from
    ``Y`` (bool, rows x labels). Without ``learn`` only ``out`` is written: every row is scored by
    the ``model`` as it stands."""
    scratch = new_scratch(model)
    bank, sgd, rule, relevant_only, active, shadow, warmup, layer = model
    for i in range(rows.indptr.shape[0] - 1):
        idx, vals = row_of(rows, i)
        score_row(idx, vals, bank, sgd, rule, active, shadow, warmup, layer, scratch, out, i)
        if learn:
            learn_row(idx, vals, Y[i], bank, sgd, rule, relevant_only, active, shadow, warmup,
                      layer, scratch)
