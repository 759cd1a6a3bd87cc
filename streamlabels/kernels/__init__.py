"""The compiled layer: numba kernels over flat arrays, one home for each hot loop.

Kernels import nothing from the rest of streamlabels (only each other, numpy and numba), so the
Python classes above them own validation and the dict-to-array mapping, and every path (one
instance at a time, the fused test-then-train run, the CPU and GPU scorers) calls the same code.
Kernels take named tuples (rows, state, parameters, scratch) and at most 12 arguments.

- :mod:`.jit`: the ``@kernel`` decorator (numba, cached; one-row kernels answer from Python
  while they compile in the background).
- :mod:`.rows`: rows as CSR named tuples, the one form every kernel reads.
- :mod:`.linear`: the binary-relevance logistic regression and its feature scaling.
- :mod:`.decision`: iHOMER's decision rule, from routing and label scores to labels.
- :mod:`.experts` and :mod:`.knn`: the decision layer (experts, Hedge, F-optimal threshold,
  sliding-window kNN).
- :mod:`.hierarchy`: the compiled layout of a model (hierarchies in transition, learners,
  layer) and :func:`~.hierarchy.score_row`, the one row-scoring kernel.
- :mod:`.fused`: test-then-train of a whole model over a run of rows.
- :mod:`.scoring_cpu` and :mod:`.scoring_cuda`: scoring many rows on the CPU and on a GPU.
- :mod:`.adwin`: the ADWIN change detector over array state.
- :mod:`.hoeffding`: the multi-label Hoeffding adaptive tree.
"""
