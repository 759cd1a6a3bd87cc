"""The standard multi-label benchmark streams, by name.

Each dataset is described in the packaged ``registry.json`` (counts, label names
in their conventional order, and the upstream files it is made of: pinned address,
size and SHA-256 of each). :func:`locate` finds the file locally or fetches it, so
experiments can simply say ``load("yeast")``.

Where files are looked for, in order:

1. each folder of ``STREAMLABELS_DATA`` (``os.pathsep``-separated);
2. the cache, ``STREAMLABELS_CACHE`` or ``~/.cache/streamlabels``;
3. if downloading is allowed (``STREAMLABELS_OFFLINE`` not set to ``1``): every
   upstream file of the dataset, from its pinned address, or from the server
   ``STREAMLABELS_MIRROR`` under the same path (the mirror replaces the scheme and
   host). Each file must have its registered size and SHA-256; only then is the
   dataset assembled (see :mod:`~streamlabels.streams.assemble`) and stored,
   gzipped, in the cache. Partial downloads wait in the cache's ``.partial``
   folder, out of the way, for the next attempt to resume.

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

import difflib
import functools
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from streamlabels.files import place
from streamlabels.streams.arff import ArffData, ArffStream, LabelSpec, LabelSpecError, load_arff
from streamlabels.streams.assemble import AssemblyError, assemble
from streamlabels.streams.download import ChecksumError, DownloadError, Part, Progress
from streamlabels.streams.download import download as download_part

__all__ = [
    "ChecksumError",
    "DatasetInfo",
    "DatasetNotFoundError",
    "DownloadError",
    "UnknownDatasetError",
    "available",
    "fetch",
    "info",
    "load",
    "load_arrays",
    "locate",
    "names",
]


class UnknownDatasetError(KeyError):
    """A dataset name that is not in the registry."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DatasetNotFoundError(FileNotFoundError):
    """A registered dataset that is neither available locally nor downloadable."""


@dataclass(frozen=True)
class DatasetInfo:
    """One registry entry.

    ``label_names`` is the conventional label order (MULAN XML order), which can
    differ from the attribute order in the file. ``sha256_gz`` is the checksum of
    the project's reference copy (``manifest.json``). ``parts`` are the upstream
    files, each checked on download; ``assemble`` says how they make one stream.
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
    source: str
    assemble: str
    parts: tuple[Part, ...]


@functools.cache
def _registry() -> dict[str, DatasetInfo]:
    text = resources.files("streamlabels.streams").joinpath("registry.json").read_text("utf-8")
    entries = {}
    for e in json.loads(text):
        e["label_names"] = tuple(e["label_names"])
        e["parts"] = tuple(Part(**p) for p in e["parts"])
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


def _mirror() -> str:
    return os.environ.get("STREAMLABELS_MIRROR", "").strip()


def _download(entry: DatasetInfo, cache: Path, progress: Progress | None) -> Path:
    """Download and check every part of ``entry``, then store the assembled file in ``cache``.

    A failed check or assembly deletes the dataset's downloads; anything else (a cut transfer,
    Ctrl-C) keeps them so that the next attempt resumes.
    """
    staging = cache / ".partial"
    paths = [staging / f"{part.sha256}.part" for part in entry.parts]
    try:
        for part in entry.parts:
            download_part(part, staging, _mirror(), progress)
        assembled = staging / f"{entry.file}.assembled"  # a killed fetch's is overwritten
        try:
            assemble(entry.assemble, paths, [part.url for part in entry.parts], assembled)
            place(assembled, cache / entry.file)
        finally:
            assembled.unlink(missing_ok=True)
    except (ChecksumError, AssemblyError):
        for path in paths:
            path.unlink(missing_ok=True)
        raise
    else:
        for path in paths:
            path.unlink()
    finally:
        if staging.is_dir() and not any(staging.iterdir()):
            staging.rmdir()
    return cache / entry.file


def _offline() -> bool:
    return os.environ.get("STREAMLABELS_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def _not_found(entry: DatasetInfo, why: str) -> DatasetNotFoundError:
    searched = [str(d) for d in _data_dirs()] + [str(_cache_dir())]
    return DatasetNotFoundError(
        f"dataset {entry.name!r} ({entry.file}) was not found in {', '.join(searched)} and {why}. "
        f"Set STREAMLABELS_DATA to a folder holding {entry.file}, or allow downloading "
        "(unset STREAMLABELS_OFFLINE; STREAMLABELS_MIRROR may name a server that holds the "
        "upstream files under their pinned paths)."
    )


_DISABLED = "downloading is disabled (download=False or STREAMLABELS_OFFLINE=1)"


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
        Not found locally and not downloadable (offline, or the download failed);
        the message says what to set.
    ChecksumError
        An upstream file arrived with the wrong size or SHA-256; nothing is
        written to the cache.
    """
    entry = info(name)
    found = _find_local(entry)
    if found is not None:
        return found
    allowed = not _offline() if download is None else download
    if not allowed:
        raise _not_found(entry, _DISABLED)
    try:
        return _download(entry, _cache_dir(), None)
    except DownloadError as exc:
        raise _not_found(entry, f"download failed: {exc}") from exc


def fetch(name: str, progress: Progress | None = None) -> Path:
    """Make dataset ``name`` available locally: its path, downloaded into the cache if missing.

    Unlike :func:`locate`, a failed transfer raises :class:`DownloadError` itself;
    ``progress(url, bytes_so_far, bytes_expected)`` follows each upstream file.
    ``STREAMLABELS_OFFLINE=1`` forbids downloading.
    """
    entry = info(name)
    found = _find_local(entry)
    if found is not None:
        return found
    if _offline():
        raise _not_found(entry, _DISABLED)
    return _download(entry, _cache_dir(), progress)


def available() -> list[tuple[str, Path | None]]:
    """Every registered name with its local path, or ``None`` (never downloads)."""
    return [(name, _find_local(entry)) for name, entry in _registry().items()]


def _check_count(entry: DatasetInfo, path: Path, labels: int) -> None:
    """A label count must be the registry's, from the right end: any other count silently turns
    labels into features, or features into labels."""
    expected = -entry.n_labels if entry.labels_position == "last" else entry.n_labels
    if labels != expected:
        where = "last" if expected < 0 else "first"
        raise LabelSpecError(
            f"{path}: dataset {entry.name!r} has {entry.n_labels} labels, the {where} "
            f"attributes (labels={expected}), but labels={labels} was given; leave labels out "
            "or pass the label names"
        )


def _resolve(name_or_path: str | os.PathLike, labels: LabelSpec) -> tuple[Path, LabelSpec]:
    if isinstance(name_or_path, str) and name_or_path in _registry():
        entry = info(name_or_path)
        if labels is None:
            labels = list(entry.label_names)
        path = locate(name_or_path)
        if isinstance(labels, int) and not isinstance(labels, bool):
            _check_count(entry, path, labels)
        return path, labels
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
