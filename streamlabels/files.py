"""Files that appear whole or not at all: checkpoints, replay saves and cached datasets.

A crash in the middle of saving must leave the previous file in use, never a torn one under the
real name. So the bytes go to a temporary file in the target's folder, which is flushed and
fsynced, then renamed over the target (a rename within a folder is atomic), and the folder is
fsynced so that the rename itself survives a power cut. A crash before the rename leaves the
temporary file, named ``.<target name>.<random>.tmp``; :func:`remove_stale` deletes those.

Fault injection, for tests only: when ``STREAMLABELS_FAULT_KILL_AT`` is set, the process that
writes sends itself SIGKILL at the point it names, so a test reaches a crash inside a write by
construction rather than by timing:

``byte:N``
    :func:`write_atomic` has written the first ``N`` bytes of the temporary file (flushed to the
    operating system, not fsynced); :func:`place` moves finished files, so it ignores this one;
``before-rename``
    the temporary file is complete and fsynced, not yet renamed;
``after-rename``
    the rename is done, the folder not yet fsynced.

A suffix ``@K`` moves the point to the K-th file the process writes (``before-rename@3``: two
saves complete, the third is killed); without it, the next file written.
"""

from __future__ import annotations

import itertools
import os
import signal
import tempfile
from pathlib import Path

__all__ = ["FAULT_VARIABLE", "place", "remove_stale", "write_atomic"]

FAULT_VARIABLE = "STREAMLABELS_FAULT_KILL_AT"
_PHASES = ("before-rename", "after-rename")
_files_written = itertools.count(1)  # numbers this process's writes, for the fault hook's @K


def write_atomic(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> Path:
    """Replace the file at ``path`` with ``data``, whole or not at all; the file gets ``mode``.

    On an error the temporary file is deleted and the previous file stays as it was.
    """
    target = Path(path)
    fault = _fault()
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            if fault.startswith("byte:"):
                f.write(data[: int(fault.removeprefix("byte:"))])
                f.flush()
                _kill_self()
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)  # mkstemp's 0600 would hide the file from other users
            os.fsync(f.fileno())
        _rename(temporary, target, fault)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def place(source: str | os.PathLike, target: str | os.PathLike, mode: int = 0o644) -> Path:
    """Move the finished file ``source`` over ``target`` (same file system), durably, as
    :func:`write_atomic` does: for files another function writes, such as a downloaded dataset."""
    source, target = Path(source), Path(target)
    with open(source, "rb") as f:
        os.fchmod(f.fileno(), mode)
        os.fsync(f.fileno())
    _rename(source, target, _fault())
    return target


def remove_stale(folder: str | os.PathLike, pattern: str = "*") -> list[Path]:
    """Delete the temporary files that writes to targets named ``pattern`` (a glob) in ``folder``
    left behind when their process died; the deleted paths.

    Call it where no other process is writing those targets: it cannot tell a dead writer's
    temporary file from a live one's.
    """
    stale = sorted(Path(folder).glob(f".{pattern}.*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _rename(source: Path, target: Path, fault: str) -> None:
    if fault == "before-rename":
        _kill_self()
    os.replace(source, target)
    if fault == "after-rename":
        _kill_self()
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _fault() -> str:
    """The point of this write that :data:`FAULT_VARIABLE` names, or ``""`` (the normal case)."""
    number = next(_files_written)
    fault = os.environ.get(FAULT_VARIABLE, "")
    if not fault:
        return ""
    point, at, nth = fault.partition("@")
    if (point not in _PHASES and not (point.startswith("byte:") and point[5:].isdigit())) or (
        at and not nth.isdigit()
    ):
        raise ValueError(
            f"{FAULT_VARIABLE}={fault!r}: expected byte:N, before-rename or after-rename, "
            "optionally followed by @K"
        )
    return point if not at or int(nth) == number else ""


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
