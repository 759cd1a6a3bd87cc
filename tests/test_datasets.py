from __future__ import annotations

import bz2
import dataclasses
import functools
import gzip
import hashlib
import http.server
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from streamlabels.streams import datasets
from streamlabels.streams.arff import ArffStream
from streamlabels.streams.datasets import (
    ChecksumError,
    DatasetNotFoundError,
    UnknownDatasetError,
)


@pytest.fixture(scope="session")
def manifest(data_dir) -> dict[str, dict]:
    return {d["name"]: d for d in json.loads((data_dir / "manifest.json").read_text())}


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No local data, an empty cache, downloads allowed, no mirror."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("STREAMLABELS_DATA", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("STREAMLABELS_CACHE", str(cache))
    monkeypatch.delenv("STREAMLABELS_OFFLINE", raising=False)
    monkeypatch.delenv("STREAMLABELS_MIRROR", raising=False)
    return cache


def no_public_urls(monkeypatch, name: str) -> None:
    """Keep a test hermetic: only the local mirror may be tried."""
    entry = datasets.info(name)
    monkeypatch.setitem(datasets._registry(), name, dataclasses.replace(entry, urls=()))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """Start an HTTP server on 127.0.0.1 for a folder; returns its base URL."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- registry


def test_registry_matches_the_manifest(manifest):
    assert datasets.names() == list(manifest)
    for name, entry in manifest.items():
        info = datasets.info(name)
        for key in ("file", "paper_name", "n_instances", "n_features", "n_labels",
                    "labels_position", "sparse", "sha256_gz"):  # fmt: skip
            assert getattr(info, key) == entry[key], (name, key)
        assert list(info.label_names) == entry["label_names"]


def test_registry_checksums_match_the_shared_files(data_dir):
    for name in datasets.names():
        info = datasets.info(name)
        blob = (data_dir / info.file).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == info.sha256_gz
        assert hashlib.sha256(gzip.decompress(blob)).hexdigest() == info.sha256_arff


def test_download_addresses():
    for name in datasets.names():
        info = datasets.info(name)
        if name == "scene":
            assert info.urls == () and "concatenat" in info.note
        else:
            (url,) = info.urls
            commit = info.source.split("@")[1].split(":")[0]
            assert url.startswith("https://raw.githubusercontent.com/") and commit in url
    assert datasets.info("imdb").urls[0].endswith("/src/main/data/Imdb.arff.bz2")
    assert datasets.info("flags").urls[0].endswith("/data/multi-label/flags/flags.arff")


def test_unknown_name_lists_known_and_suggests():
    with pytest.raises(UnknownDatasetError) as err:
        datasets.info("yeats")
    assert isinstance(err.value, KeyError)
    message = str(err.value)
    assert "'yeats'" in message and "did you mean 'yeast'" in message
    assert all(name in message for name in datasets.names())
    with pytest.raises(UnknownDatasetError):
        datasets.load("no-such-set")


# ------------------------------------------------------------ local lookup


def test_locate_searches_each_data_folder_then_cache(data_dir, monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("STREAMLABELS_DATA", os.pathsep.join([str(empty), str(data_dir)]))
    monkeypatch.setenv("STREAMLABELS_CACHE", str(tmp_path / "cache"))
    assert datasets.locate("flags", download=False) == data_dir / "flags.arff.gz"
    found = dict(datasets.available())
    assert found == {name: data_dir / datasets.info(name).file for name in datasets.names()}


def test_available_reports_missing_as_none(isolated):
    assert datasets.available() == [(name, None) for name in datasets.names()]


def test_load_by_name_uses_registry_label_order(data_dir, manifest, monkeypatch):
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    stream = datasets.load("yeast")
    assert isinstance(stream, ArffStream)
    assert stream.label_names == manifest["yeast"]["label_names"]
    arrays = datasets.load_arrays("yeast", sparse=True)
    assert arrays.X.shape == (2417, 103) and arrays.label_names == stream.label_names
    first_x, first_y = next(iter(stream))
    assert list(first_y.values()) == arrays.Y[0].tolist()
    np.testing.assert_array_equal(arrays.X[0].toarray().ravel(), list(first_x.values()))


def test_load_by_path(data_dir, manifest):
    path = data_dir / "imdb.arff.gz"
    assert datasets.load(path).label_names == manifest["imdb"]["label_names"]
    assert datasets.load(str(data_dir / "flags.arff.gz"), labels=-7).n_labels == 7
    with pytest.raises(FileNotFoundError, match="no such ARFF file"):
        datasets.load(data_dir / "nope.arff")


# ---------------------------------------------------------------- download


@pytest.mark.parametrize("form", ["gzip", "bz2", "plain"])
def test_download_from_mirror_verifies_and_caches(
    data_dir, isolated, monkeypatch, serve, tmp_path, form
):
    raw = gzip.decompress((data_dir / "flags.arff.gz").read_bytes())
    served = tmp_path / "served"
    served.mkdir()
    packed = {"gzip": gzip.compress, "bz2": bz2.compress, "plain": bytes}[form](raw)
    (served / "flags.arff.gz").write_bytes(packed)
    monkeypatch.setenv("STREAMLABELS_MIRROR", serve(served) + "/")
    no_public_urls(monkeypatch, "flags")

    path = datasets.locate("flags")
    assert path == isolated / "flags.arff.gz"
    assert gzip.decompress(path.read_bytes()) == raw
    assert sorted(p.name for p in isolated.iterdir()) == ["flags.arff.gz"]
    assert sum(1 for _ in datasets.load("flags")) == 194

    (served / "flags.arff.gz").unlink()
    assert datasets.locate("flags") == path


def test_corrupt_download_raises_and_caches_nothing(
    data_dir, isolated, monkeypatch, serve, tmp_path
):
    raw = gzip.decompress((data_dir / "flags.arff.gz").read_bytes())
    served = tmp_path / "served"
    served.mkdir()
    (served / "flags.arff.gz").write_bytes(gzip.compress(raw.replace(b"648", b"649", 1)))
    monkeypatch.setenv("STREAMLABELS_MIRROR", serve(served))
    no_public_urls(monkeypatch, "flags")
    with pytest.raises(ChecksumError, match=datasets.info("flags").sha256_arff):
        datasets.locate("flags")
    assert not isolated.exists() or list(isolated.iterdir()) == []


def test_unreachable_mirror_reports_the_failure(isolated, monkeypatch, serve, tmp_path):
    monkeypatch.setenv("STREAMLABELS_MIRROR", serve(tmp_path))
    no_public_urls(monkeypatch, "flags")
    with pytest.raises(DatasetNotFoundError, match="download failed: http://127.0.0.1:.*404"):
        datasets.locate("flags")


def test_offline_without_local_copy_says_what_to_do(isolated, monkeypatch):
    monkeypatch.setenv("STREAMLABELS_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError) as err:
        datasets.locate("flags")
    message = str(err.value)
    assert "flags.arff.gz" in message and "STREAMLABELS_DATA" in message
    assert "STREAMLABELS_OFFLINE" in message
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(DatasetNotFoundError, match="downloading is disabled"):
        datasets.locate("flags", download=False)


def test_scene_has_no_download_address(isolated):
    with pytest.raises(DatasetNotFoundError, match="no download address: built by concatenating"):
        datasets.locate("scene")
