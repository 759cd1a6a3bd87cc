"""``streamlabels compile``: fill numba's on-disk cache with every kernel, ahead of use.

A process that finds the kernels in the cache loads them in milliseconds; one that does not
answers its first instances from Python while they compile in the background
(:mod:`streamlabels.kernels.jit`), and its batch paths wait for the compiler. A container image
or a deployment step that runs this once gives every later process (a replay, a new service
replica) compiled kernels from its first instance (docs/deployment.md).
"""

from __future__ import annotations

import time

from streamlabels.cli.commands import add_command

__all__ = ["add_parser", "compile_kernels"]

EXAMPLES = """examples:
  streamlabels compile
  NUMBA_CACHE_DIR=/opt/numba-cache streamlabels compile     # e.g. in a Dockerfile
"""


def compile_kernels() -> list[tuple[str, float]]:
    """Run every compiled path once on a small stream, so that each kernel is compiled (or
    loaded) for the types the library gives it: one instance at a time, the fused batch run,
    the CPU scorer on one thread and on several, a frozen snapshot, the Hoeffding tree learner.
    Returns each path's seconds."""
    from streamlabels import IHOMER
    from streamlabels.kernels import jit
    from streamlabels.scoring import score_many
    from streamlabels.streams import SyntheticStream
    from streamlabels.streams.arrays import ArrayStream

    arrays = ArrayStream.read(SyntheticStream(n_instances=300, n_features=8, n_labels=6, seed=1))
    stream, labels = list(arrays), arrays.label_names
    X, Y = arrays.X.toarray(), arrays.Y
    timings = []

    def timed(name: str, run) -> None:
        start = time.perf_counter()
        run()
        timings.append((name, time.perf_counter() - start))

    def one_at_a_time() -> None:
        for learner in ("linear", "tree"):
            model = IHOMER(labels=labels, learner=learner, n_min=50)
            for x, y in stream[:60]:
                model.predict_one(x)
                model.learn_one(x, y)
        while not jit.compile_queue_empty():
            time.sleep(0.05)

    model = IHOMER(labels=labels, n_min=50)
    timed("one instance at a time", one_at_a_time)
    timed("fused test-then-train", lambda: model.score_learn_many(X, Y))
    timed("scoring, one thread", lambda: model.score_many(X[:8]))
    timed("scoring, several threads", lambda: model.score_many(X))
    timed("snapshot scoring", lambda: score_many(model.snapshot(), X))
    return timings


def run(args) -> int:
    total = 0.0
    for name, seconds in compile_kernels():
        total += seconds
        print(f"{name:28s} {seconds:7.2f} s")
    print(f"{'all kernels ready':28s} {total:7.2f} s")
    return 0


def add_parser(commands) -> None:
    add_command(
        commands, "compile", "compile every kernel into numba's cache (for container images)",
        EXAMPLES, run,
    )
