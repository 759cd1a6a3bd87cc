"""Kernels of the multi-label Hoeffding adaptive tree: node walk and growth (:mod:`.tree`),
leaf models (:mod:`.leaves`) and Gaussian split statistics (:mod:`.splitters`)."""
