"""One ARFF stream from a dataset's verified upstream files.

Upstream repositories do not always hold a benchmark as one plain ARFF file: MULAN splits scene
into a train and a test file, MEKA ships IMDB compressed with bzip2. The registry says how each
dataset is put together (its ``assemble`` field); the result is written gzipped.

``copy``
    one file, as it is;
``bunzip2``
    one bzip2 file, decompressed;
``rows``
    several files with the same header: the first file whole, then the data rows of the others,
    in the registry's order (scene: train rows, then test rows).
"""

from __future__ import annotations

import bz2
import gzip
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

__all__ = ["KINDS", "AssemblyError", "assemble"]

KINDS = ("copy", "bunzip2", "rows")


class AssemblyError(ValueError):
    """Upstream files that cannot be put together as the registry says."""


def _header_and_rows(f: BinaryIO, name: str) -> tuple[bytes, Iterator[bytes]]:
    """The header of an ARFF file up to its ``@data`` line (without ``@relation``) and the rest."""
    header = []
    for line in f:
        word = line.strip().lower()
        if word == b"@data":
            return b"".join(header), f
        if not word.startswith(b"@relation"):
            header.append(line)
    raise AssemblyError(f"{name}: no @data line")


def _rows(paths: Sequence[Path], names: Sequence[str], out: BinaryIO) -> None:
    with open(paths[0], "rb") as first:
        header, _ = _header_and_rows(first, names[0])
        first.seek(0)
        shutil.copyfileobj(first, out, 1 << 20)
        first.seek(-1, 2)
        if first.read(1) != b"\n":  # the next file's first row must start a line
            out.write(b"\n")
    for path, name in zip(paths[1:], names[1:]):
        with open(path, "rb") as f:
            other, rows = _header_and_rows(f, name)
            if other != header:
                raise AssemblyError(f"{name}: its header differs from that of {names[0]}")
            shutil.copyfileobj(rows, out, 1 << 20)


def assemble(kind: str, paths: Sequence[Path], names: Sequence[str], target: Path) -> None:
    """Write the dataset made of ``paths`` (called ``names`` in errors) to ``target``, gzipped."""
    if kind not in KINDS:
        raise AssemblyError(f"unknown assembly {kind!r}; known: {', '.join(KINDS)}")
    if kind != "rows" and len(paths) != 1:
        raise AssemblyError(f"{kind!r} takes one file, got {len(paths)}")
    with gzip.open(target, "wb", compresslevel=6) as out:
        if kind == "rows":
            _rows(paths, names, out)
            return
        opener = bz2.open if kind == "bunzip2" else open
        with opener(paths[0], "rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)
