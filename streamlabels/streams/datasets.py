"""The standard multi-label benchmark streams, by name.

Each dataset is described in the packaged ``registry.json`` (counts, label names
in their conventional order, checksums, download addresses). :func:`locate`
finds the file locally or fetches and verifies it, so experiments can simply say
``load("yeast")``.

Where files are looked for, in order:

1. each folder of ``STREAMLABELS_DATA`` (``os.pathsep``-separated);
2. the cache, ``STREAMLABELS_CACHE`` or ``~/.cache/streamlabels``;
3. if downloading is allowed (``STREAMLABELS_OFFLINE`` not set to ``1``): the
   mirror ``STREAMLABELS_MIRROR`` (as ``{mirror}/{file}``), then the public
   addresses. A download is accepted only if its decompressed content has the
   registered SHA-256, whatever compression the source used; it is then stored
   gzipped in the cache.

Examples
--------
>>> "emotions" in names()
True
>>> info("emotions").n_labels
6
>>> info("emotion")
Traceback (most recent call last):
...
streamlabels.streams.datasets.UnknownDatasetError: unknown dataset 'emotion' (did you mean 'emotions'?); known: ...
"""

from __future__ import annotations

import bz2
import difflib
import functools
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from streamlabels.streams.arff import ArffData, ArffStream, LabelSpec, load_arff

__all__ = [
    "ChecksumError",
    "DatasetInfo",
    "DatasetNotFoundError",
    "UnknownDatasetError",
    "available",
    "info",
    "load",
    "load_arrays",
    "locate",
    "names",
]

DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


class UnknownDatasetError(KeyError):
    """A dataset name that is not in the registry."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DatasetNotFoundError(FileNotFoundError):
    """A registered dataset that is neither available locally nor downloadable."""


class ChecksumError(ValueError):
    """Downloaded content that differs from the registered checksum."""


@dataclass(frozen=True)
class DatasetInfo:
    """One registry entry.

    ``label_names`` is the conventional label order (MULAN XML order), which can
    differ from the attribute order in the file. ``sha256_gz`` is the checksum of
    the reference ``.gz`` file, ``sha256_arff`` that of its decompressed content
    (what downloads are checked against). ``urls`` is empty when no single public
    file holds the data; ``note`` then says why.
    """

    name: str
    file: str
    paper_name: str | None
    n_instances: int
    n_features: int
    n_labels: int
    label_names: tuple[str, ...]
    labels_position: str
    sparse: bool
    sha256_gz: str
    sha256_arff: str
    source: str
    urls: tuple[str, ...]
    note: str = ""


@functools.cache
def _registry() -> dict[str, DatasetInfo]:
    text = resources.files("streamlabels.streams").joinpath("registry.json").read_text("utf-8")
    entries = {}
    for e in json.loads(text):
        e["label_names"] = tuple(e["label_names"])
        e["urls"] = tuple(e["urls"])
        entries[e["name"]] = DatasetInfo(**e)
    return entries


def names() -> list[str]:
    """Names of the registered datasets, in registry order."""
    return list(_registry())


def info(name: str) -> DatasetInfo:
    """The registry entry of ``name``; unknown names list the known ones."""
    registry = _registry()
    if name not in registry:
        close = difflib.get_close_matches(str(name), registry, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownDatasetError(
            f"unknown dataset {name!r}{hint}; known: {', '.join(registry)}"
        )
    return registry[name]


def _data_dirs() -> list[Path]:
    return [Path(p) for p in os.environ.get("STREAMLABELS_DATA", "").split(os.pathsep) if p]


def _cache_dir() -> Path:
    configured = os.environ.get("STREAMLABELS_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "streamlabels"


def _find_local(entry: DatasetInfo) -> Path | None:
    for folder in [*_data_dirs(), _cache_dir()]:
        candidate = folder / entry.file
        if candidate.is_file():
            return candidate
    return None


def _decompressed_chunks(path: Path):
    """Yield the decompressed bytes of ``path``, whether gzip, bzip2 or plain."""
    with open(path, "rb") as f:
        magic = f.read(3)
    if magic[:2] == b"\x1f\x8b":
        opener = gzip.open
    elif magic == b"BZh":
        opener = bz2.open
    else:
        opener = open
    with opener(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def _fetch(url: str, entry: DatasetInfo, cache: Path) -> Path:
    """Download ``url``, check it, and store it gzipped as ``cache/entry.file``."""
    cache.mkdir(parents=True, exist_ok=True)
    fd, raw_name = tempfile.mkstemp(dir=cache, prefix=f".{entry.file}.", suffix=".part")
    raw = Path(raw_name)
    packed = raw.with_suffix(".gz")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(
            url, timeout=DOWNLOAD_TIMEOUT_S
        ) as response:
            shutil.copyfileobj(response, out, _CHUNK)
        digest = hashlib.sha256()
        with gzip.open(packed, "wb") as out:
            for chunk in _decompressed_chunks(raw):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != entry.sha256_arff:
            raise ChecksumError(
                f"{url}: content has SHA-256 {digest.hexdigest()}, expected {entry.sha256_arff} "
                f"for {entry.name}; nothing was stored"
            )
        target = cache / entry.file
        os.replace(packed, target)
        return target
    finally:
        raw.unlink(missing_ok=True)
        packed.unlink(missing_ok=True)


def _offline() -> bool:
    return os.environ.get("STREAMLABELS_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def locate(name: str, download: bool | None = None) -> Path:
    """Path of dataset ``name``, downloading it into the cache if needed and allowed.

    Parameters
    ----------
    name
        A registered name (see :func:`names`).
    download
        Allow fetching a missing file. ``None`` allows it unless the environment
        says ``STREAMLABELS_OFFLINE=1``.

    Raises
    ------
    DatasetNotFoundError
        Not found locally and not downloadable (offline, no address, or every
        address failed); the message says what to set.
    ChecksumError
        No download succeeded and at least one arrived with the wrong content;
        nothing is written to the cache.
    """
    entry = info(name)
    found = _find_local(entry)
    if found is not None:
        return found
    allowed = not _offline() if download is None else download
    sources = []
    mirror = os.environ.get("STREAMLABELS_MIRROR", "").strip()
    if mirror:
        sources.append(f"{mirror.rstrip('/')}/{entry.file}")
    sources.extend(entry.urls)
    failures: list[str] = []
    mismatches: list[ChecksumError] = []
    if allowed:
        for url in sources:
            try:
                return _fetch(url, entry, _cache_dir())
            except ChecksumError as exc:
                mismatches.append(exc)
            except (urllib.error.URLError, OSError, EOFError, ValueError, zlib.error) as exc:
                failures.append(f"{url}: {exc}")
    if mismatches:
        raise ChecksumError("; ".join([str(m) for m in mismatches] + failures))
    searched = [str(d) for d in _data_dirs()] + [str(_cache_dir())]
    if not allowed:
        why = "downloading is disabled (download=False or STREAMLABELS_OFFLINE=1)"
    elif not sources:
        why = f"there is no download address: {entry.note or 'none registered'}"
    else:
        why = "download failed: " + "; ".join(failures)
    raise DatasetNotFoundError(
        f"dataset {name!r} ({entry.file}) was not found in {', '.join(searched)} and {why}. "
        f"Set STREAMLABELS_DATA to a folder holding {entry.file}, or allow downloading "
        "(unset STREAMLABELS_OFFLINE, or set STREAMLABELS_MIRROR to a folder URL holding it)."
    )


def available() -> list[tuple[str, Path | None]]:
    """Every registered name with its local path, or ``None`` (never downloads)."""
    return [(name, _find_local(entry)) for name, entry in _registry().items()]


def _resolve(name_or_path: str | os.PathLike, labels: LabelSpec) -> tuple[Path, LabelSpec]:
    if isinstance(name_or_path, str) and name_or_path in _registry():
        if labels is None:
            labels = list(info(name_or_path).label_names)
        return locate(name_or_path), labels
    path = Path(name_or_path)
    if path.is_file():
        return path, labels
    if isinstance(name_or_path, str) and not any(
        sep in name_or_path for sep in ("/", os.sep, ".arff")
    ):
        info(name_or_path)
    raise FileNotFoundError(f"no such ARFF file: {path}")


def load(name_or_path: str | os.PathLike, labels: LabelSpec = None) -> ArffStream:
    """Stream a registered dataset, or any ARFF file by path.

    For a registered name the labels default to the registry's ``label_names``;
    for a path, ``labels`` works as in :class:`~streamlabels.streams.arff.ArffStream`.
    """
    path, labels = _resolve(name_or_path, labels)
    return ArffStream(path, labels)


def load_arrays(
    name_or_path: str | os.PathLike, labels: LabelSpec = None, sparse: bool | None = None
) -> ArffData:
    """A registered dataset, or any ARFF file by path, as arrays.

    Labels are resolved as in :func:`load`; ``sparse`` as in
    :func:`~streamlabels.streams.arff.load_arff`.
    """
    path, labels = _resolve(name_or_path, labels)
    return load_arff(path, labels, sparse)
