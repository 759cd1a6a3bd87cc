"""The compiled layer: numba kernels over flat arrays, one home for each hot loop.

Kernels import nothing from the rest of streamlabels (only each other, numpy and numba), so the
Python classes above them own validation and the dict-to-array mapping, and every path (one
instance at a time, the fused test-then-train run, the CPU and GPU scorers) calls the same code.

- :mod:`.linear`: the binary-relevance logistic regression and its feature scaling.
- :mod:`.decision`: iHOMER's decision rule, from routing and label scores to labels.
- :mod:`.fused`: test-then-train of a whole hierarchy over a run of rows.
- :mod:`.scoring_cpu` and :mod:`.scoring_cuda`: batched scoring of frozen snapshots.
- :mod:`.adwin`: the ADWIN change detector over array state.
- :mod:`.hoeffding`: the multi-label Hoeffding adaptive tree.
"""
