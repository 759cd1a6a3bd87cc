"""Fetching the benchmarks from their upstream files, served by a real local HTTP server."""

from __future__ import annotations

import gzip
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamlabels.cli import main
from streamlabels.files import FAULT_VARIABLE
from streamlabels.streams import datasets
from streamlabels.streams.arff import ArffStream
from streamlabels.streams.assemble import AssemblyError, assemble
from streamlabels.streams.datasets import ChecksumError, DatasetNotFoundError, DownloadError

sys.path.insert(0, str(Path(__file__).parent))
from upstream_server import UpstreamServer


@pytest.fixture
def upstream(data_dir, monkeypatch, tmp_path):
    """The upstream copies behind STREAMLABELS_MIRROR; no local data; an empty cache."""
    server = UpstreamServer(data_dir / "upstream")
    monkeypatch.setenv("STREAMLABELS_MIRROR", server.url)
    monkeypatch.setenv("STREAMLABELS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("STREAMLABELS_DATA", raising=False)
    monkeypatch.delenv("STREAMLABELS_OFFLINE", raising=False)
    server.cache = tmp_path / "cache"
    yield server
    server.close()


def path_of(name: str, i: int = 0) -> str:
    return "/" + datasets.info(name).parts[i].url.split("/", 3)[3]


def cache_contents(cache: Path) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) if cache.exists() else []


def same_rows(a: ArffStream, b: ArffStream) -> int:
    """Number of rows; fails at the first (x, y) that differs, NaN equal to NaN."""
    n = 0
    for n, ((xa, ya), (xb, yb)) in enumerate(zip(a, b, strict=True), 1):
        assert ya == yb and xa.keys() == xb.keys(), n
        assert all(xa[k] == xb[k] or (math.isnan(xa[k]) and math.isnan(xb[k])) for k in xa), n
    return n


def test_fetch_all_gives_exactly_the_rows_of_the_shared_files(upstream, data_dir, capsys):
    assert main(["datasets", "fetch", "--all"]) == 0
    names = datasets.names()
    assert cache_contents(upstream.cache) == sorted(datasets.info(n).file for n in names)
    for name in names:
        info = datasets.info(name)
        assert datasets.locate(name) == upstream.cache / info.file
        labels = list(info.label_names)
        fetched = ArffStream(upstream.cache / info.file, labels)
        n = same_rows(fetched, ArffStream(data_dir / info.file, labels))
        assert n == info.n_instances, name
    asked = [path for path, _ in upstream.requests]
    assert asked == [path_of(n, i) for n in names for i in range(len(datasets.info(n).parts))]
    assert path_of("imdb").endswith("/Imdb.arff.bz2")
    assert "imdb: " + str(upstream.cache / "imdb.arff.gz") in capsys.readouterr().out


def test_a_dataset_already_in_the_cache_is_not_downloaded_again(upstream):
    first = datasets.fetch("flags")
    assert datasets.fetch("flags") == first and len(upstream.requests) == 1


def test_corrupted_byte_is_refused_naming_address_and_checksum(upstream):
    upstream.faults[path_of("scene", 1)] = "corrupt"
    with pytest.raises(ChecksumError) as err:
        datasets.fetch("scene")
    part = datasets.info("scene").parts[1]
    message = str(err.value)
    assert upstream.url + path_of("scene", 1) in message and part.sha256 in message
    assert cache_contents(upstream.cache) == []


def test_truncated_file_is_refused_by_its_size(upstream):
    upstream.faults[path_of("flags")] = "short"
    with pytest.raises(ChecksumError, match=r"expected 11,281 bytes .* received 11,280 bytes"):
        datasets.fetch("flags")
    assert cache_contents(upstream.cache) == []


def test_server_error_names_the_address_and_leaves_the_cache_empty(upstream):
    upstream.faults[path_of("emotions")] = 500
    with pytest.raises(DownloadError, match=rf"{upstream.url}{path_of('emotions')}: HTTP 500"):
        datasets.fetch("emotions")
    assert cache_contents(upstream.cache) == []
    assert main(["datasets", "fetch", "emotions"]) == 2


def test_cut_transfer_stores_no_dataset_and_the_next_fetch_resumes(upstream, data_dir):
    upstream.faults[path_of("yeast")] = "cut"
    with pytest.raises(DownloadError, match="closed after 1,208,344 of 2,416,688 bytes.*resume"):
        datasets.fetch("yeast")
    assert dict(datasets.available())["yeast"] is None
    partial = f".partial/{datasets.info('yeast').parts[0].sha256}.part"
    assert cache_contents(upstream.cache) == [".partial", partial]

    del upstream.faults[path_of("yeast")]
    path = datasets.fetch("yeast")
    assert upstream.requests[-1] == (path_of("yeast"), "bytes=1208344-")
    assert cache_contents(upstream.cache) == ["yeast.arff.gz"]
    labels = list(datasets.info("yeast").label_names)
    shared = ArffStream(data_dir / "yeast.arff.gz", labels)
    assert same_rows(ArffStream(path, labels), shared) == 2417


def test_a_killed_fetch_leaves_no_dataset_and_the_next_one_resumes(upstream, data_dir):
    upstream.faults[path_of("yeast")] = "slow"
    partial = upstream.cache / ".partial" / f"{datasets.info('yeast').parts[0].sha256}.part"
    command = [sys.executable, "-m", "streamlabels.cli", "datasets", "fetch", "yeast"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (partial.exists() and partial.stat().st_size > 1 << 18):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.kill()
    process.wait()
    kept = partial.stat().st_size
    assert 0 < kept < datasets.info("yeast").parts[0].bytes
    assert cache_contents(upstream.cache) == [".partial", f".partial/{partial.name}"]

    del upstream.faults[path_of("yeast")]
    path = datasets.fetch("yeast")
    assert upstream.requests[-1] == (path_of("yeast"), f"bytes={kept}-")
    labels = list(datasets.info("yeast").label_names)
    shared = ArffStream(data_dir / "yeast.arff.gz", labels)
    assert same_rows(ArffStream(path, labels), shared) == 2417


def test_a_fetch_killed_before_its_dataset_is_in_place_leaves_none_and_the_next_one_finishes(
    upstream, data_dir
):
    command = [sys.executable, "-m", "streamlabels.cli", "datasets", "fetch", "yeast"]
    killed = subprocess.run(command, capture_output=True, env={
        **os.environ, FAULT_VARIABLE: "before-rename",  # SIGKILL once assembled, before the rename
    })
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    part = f".partial/{datasets.info('yeast').parts[0].sha256}.part"
    assert cache_contents(upstream.cache) == [".partial", part, ".partial/yeast.arff.gz.assembled"]
    asked = len(upstream.requests)
    path = datasets.fetch("yeast")
    assert len(upstream.requests) == asked, "the verified download was fetched again"
    assert cache_contents(upstream.cache) == ["yeast.arff.gz"]
    labels = list(datasets.info("yeast").label_names)
    shared = ArffStream(data_dir / "yeast.arff.gz", labels)
    assert same_rows(ArffStream(path, labels), shared) == 2417

def test_offline_forbids_fetching(upstream, monkeypatch):
    monkeypatch.setenv("STREAMLABELS_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError, match="downloading is disabled"):
        datasets.fetch("flags")
    assert main(["datasets", "fetch", "flags"]) == 2
    assert upstream.requests == []


def test_locate_reports_a_failed_download_as_not_found(upstream):
    upstream.faults[path_of("flags")] = 404
    with pytest.raises(DatasetNotFoundError, match=r"download failed: http://127.0.0.1:.*HTTP 404"):
        datasets.locate("flags")


def test_fetch_command_needs_names_or_all(upstream, capsys):
    assert main(["datasets", "fetch"]) == 2
    assert "name the datasets to fetch, or give --all" in capsys.readouterr().err
    assert main(["datasets", "fetch", "yeats"]) == 2
    assert "did you mean 'yeast'" in capsys.readouterr().err
    assert upstream.requests == []


def test_rows_assembly_refuses_files_with_different_headers(tmp_path):
    head = "@relation r\n@attribute a numeric\n@attribute L {0,1}\n@data\n"
    (tmp_path / "train.arff").write_text(head + "1,0\n2,1")
    (tmp_path / "test.arff").write_text(head.replace("@relation r", "@relation other") + "3,1\n")
    (tmp_path / "odd.arff").write_text(head.replace("numeric", "real") + "3,1\n")
    paths = [tmp_path / "train.arff", tmp_path / "test.arff"]
    assemble("rows", paths, ["train", "test"], tmp_path / "joined.arff.gz")
    assert gzip.decompress((tmp_path / "joined.arff.gz").read_bytes()).decode() == (
        head + "1,0\n2,1\n3,1\n"
    )
    with pytest.raises(AssemblyError, match="odd: its header differs from that of train"):
        assemble("rows", [paths[0], tmp_path / "odd.arff"], ["train", "odd"], tmp_path / "x.gz")
