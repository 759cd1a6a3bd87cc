"""iHOMER's decision rule, in one place: from each group's routing score and each label's score
within its group to the predicted labels and the labels' scores.

Every path calls these functions: ``predict_one`` (from Python), the fused test-then-train kernel,
the CPU scorer, and the GPU scorer, which compiles the same source as CUDA device functions. So
they allocate nothing and call nothing.

A partition is given as ``group_ptr`` (n_groups + 1) and ``group_labels``: the label ids of group
``k``, ascending, are ``group_labels[group_ptr[k]:group_ptr[k + 1]]``. ``routing`` has one entry
per group, ``local`` one per label (its score given that its group is relevant).
"""

from __future__ import annotations

from collections import namedtuple

from streamlabels.kernels.jit import kernel

Rule = namedtuple("Rule", ["theta", "group_nonempty", "ensure_nonempty", "use_layer"])
"""The decision parameters: the routing threshold ``theta``; ``group_nonempty``: a routed group
predicts at least its best label; ``ensure_nonempty``: never predict the empty set;
``use_layer``: the decision layer (:mod:`.experts`) decides from the label scores instead."""


@kernel(background=True)
def decide(routing, local, group_ptr, group_labels, theta, group_nonempty, ensure_nonempty, labels):
    """Write the predicted labels into ``labels``.

    A label is predicted when its group is routed (``routing >= theta``) and its score within the
    group reaches 0.5. ``group_nonempty`` adds a routed group's best label where the group has
    none; ``ensure_nonempty`` adds the best label of the best-routed group where nothing is
    predicted. Ties go to the first group and the first label in group order. Only the scores of
    routed groups are read, and of every group under ``ensure_nonempty``.
    """
    n_groups = group_ptr.shape[0] - 1
    for l in range(labels.shape[0]):
        labels[l] = False
    predicted_any = False
    for k in range(n_groups):
        if routing[k] < theta:
            continue
        chosen = False
        best = group_labels[group_ptr[k]]
        for p in range(group_ptr[k], group_ptr[k + 1]):
            l = group_labels[p]
            if local[l] >= 0.5:
                labels[l] = True
                chosen = True
            if local[l] > local[best]:
                best = l
        if group_nonempty and not chosen:
            labels[best] = True
            chosen = True
        predicted_any = predicted_any or chosen
    if ensure_nonempty and not predicted_any and n_groups > 0:
        top = 0
        for k in range(1, n_groups):
            if routing[k] > routing[top]:
                top = k
        best = group_labels[group_ptr[top]]
        for p in range(group_ptr[top], group_ptr[top + 1]):
            if local[group_labels[p]] > local[best]:
                best = group_labels[p]
        labels[best] = True


@kernel(background=True)
def label_scores(routing, local, group_ptr, group_labels, out):
    """Write each label's score, its group's routing score times its score within the group."""
    for k in range(group_ptr.shape[0] - 1):
        for p in range(group_ptr[k], group_ptr[k + 1]):
            out[group_labels[p]] = routing[k] * local[group_labels[p]]
