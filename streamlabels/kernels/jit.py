"""``@kernel``: the kernels' compiler, which lets a fresh process answer before it has compiled.

Every kernel is a numba dispatcher compiled as ``njit(cache=True)`` would compile it. Compiling
the one-instance path from an empty numba cache takes 15-25 s, which a user's first
``learn_one`` or a new service replica would otherwise wait through. So a kernel marked
``background=True`` (those that score or learn one row, cheap in Python) answers its first calls
from Python by running its own source, the kernels it calls included, while one background
thread compiles it (or loads it from the cache, a matter of milliseconds); once compiled, calls
go to the compiled code. Python floats and the compiled code perform the same IEEE-754 operations
in the same order (the kernels call ``math.sqrt`` and ``math.exp``, never ``** 0.5``, which LLVM
turns into a square root), so both give the same answers bit for bit:
``tests/kernels/test_kernels_jit.py`` checks it on real data.

Kernels without ``background`` (whole batches: slow in Python) compile in the calling thread, as
usual, once the background thread has done the kernels queued before them: a batch run then finds
the one-row kernels its Python side calls per row (the loss detector's ADWIN) compiled too. Inside compiled code a kernel is an ordinary numba dispatcher: numba, and numba-cuda for
the GPU scorer, call it directly. ``NUMBA_DISABLE_JIT=1`` leaves every kernel plain Python.
"""

from __future__ import annotations

import queue
import threading

from numba import config
from numba.core.registry import CPUDispatcher

__all__ = ["Kernel", "compile_queue_empty", "kernel", "prepare"]

_python = threading.local()  # .active: this thread is running kernels' Python source
_pending: queue.Queue = queue.Queue()  # (kernel, signature) for the background compiler
_worker_lock = threading.Lock()
_worker: threading.Thread | None = None


def _compile_in_background() -> None:
    while True:
        job, signature = _pending.get()
        try:
            job.compile(signature)
        except Exception:  # noqa: BLE001 - the next call compiles in the caller and raises there
            pass
        finally:
            job.ready = True
            # From now on calls need none of this class: numba's own dispatcher (in C) is ~0.4 µs
            # faster per call, which the one-instance path pays several times per instance. No
            # Python source runs it again: a background kernel is only ever called from Python
            # or from compiled code, never from another kernel's Python source.
            job.__class__ = CPUDispatcher
            _pending.task_done()


def _enqueue(job: Kernel, signature: tuple) -> None:
    global _worker
    with _worker_lock:
        if _worker is None or not _worker.is_alive():
            # a daemon: a process that is done before its kernels are need not wait for them
            _worker = threading.Thread(
                target=_compile_in_background, name="streamlabels-compile", daemon=True
            )
            _worker.start()
    _pending.put((job, signature))


def compile_queue_empty() -> bool:
    """Whether every kernel asked for so far has been compiled (or loaded from the cache)."""
    return _pending.unfinished_tasks == 0


def prepare(function, *args) -> None:
    """Have the background thread compile ``function`` for the types of ``args`` without calling
    it, so that a kernel a later call will want (the calibrated probabilities after a loop that
    only learned) is compiled by then rather than run as Python. Nothing for other functions."""
    if isinstance(function, Kernel) and function.background and not function._asked:
        function._asked = True
        _enqueue(function, tuple(function.typeof_pyval(arg) for arg in args))


class Kernel(CPUDispatcher):
    """A numba dispatcher that, with ``background``, runs its Python source until a background
    thread has compiled it for the types of its first call (see the module docstring)."""

    background = False
    ready = False  # compiled (or failed to: the caller's own compile then reports why)
    _asked = False

    def __call__(self, *args):
        if getattr(_python, "active", False):
            return self.py_func(*args)
        if not self.background:  # a batch: it waits for the one-row kernels queued before it
            _pending.join()
            return CPUDispatcher.__call__(self, *args)
        if self.ready:
            # not super(): the compiler thread may have made this a CPUDispatcher since the call
            # began, and super(Kernel, self) then refuses it
            return CPUDispatcher.__call__(self, *args)
        if not self._asked:
            self._asked = True
            _enqueue(self, tuple(self.typeof_pyval(arg) for arg in args))
        _python.active = True
        try:
            return self.py_func(*args)
        finally:
            _python.active = False


def kernel(function=None, *, background: bool = False, nogil: bool = False,
           inline: bool = False):
    """Compile ``function`` with numba in nopython mode, cached on disk; with ``background``,
    first calls run as Python while it compiles; ``nogil`` releases the GIL while it runs;
    ``inline`` compiles it into each kernel that calls it (numba's ``inline="always"``)."""

    def compiled(f):
        if config.DISABLE_JIT:
            return f
        options = {"nopython": True, "nogil": nogil, "inline": "always" if inline else "never"}
        dispatcher = Kernel(f, locals={}, targetoptions=options)
        dispatcher.enable_caching()
        dispatcher.background = background
        return dispatcher

    return compiled if function is None else compiled(function)
