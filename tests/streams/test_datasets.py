from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

from streamlabels.streams import datasets
from streamlabels.streams.arff import ArffStream, LabelSpecError
from streamlabels.streams.datasets import UnknownDatasetError


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


def test_registry_parts_are_the_pinned_upstream_files(data_dir):
    sources = json.loads((data_dir / "upstream_sources.json").read_text())
    assert [s["name"] for s in sources] == datasets.names()
    for source in sources:
        info = datasets.info(source["name"])
        expected = [(p["url"], p["bytes"], p["sha256"]) for p in source["parts"]]
        assert [(p.url, p.bytes, p.sha256) for p in info.parts] == expected
        commit = info.source.split("@")[1].split(":")[0]
        assert all(
            p.url.startswith("https://raw.githubusercontent.com/") and commit in p.url
            for p in info.parts
        )
    assert [p.url.rsplit("/", 1)[1] for p in datasets.info("scene").parts] == [
        "scene-train.arff",
        "scene-test.arff",
    ]
    assert datasets.info("scene").assemble == "rows"
    assert datasets.info("imdb").assemble == "bunzip2"
    assert {datasets.info(n).assemble for n in datasets.names()} == {"copy", "rows", "bunzip2"}


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


@pytest.mark.parametrize("labels", [-8, 14, -13])
def test_a_label_count_other_than_the_registry_s_is_refused_naming_file_and_count(
    data_dir, monkeypatch, labels
):
    """yeast has its 14 labels last: -8 would make six labels features, 14 features labels."""
    monkeypatch.setenv("STREAMLABELS_DATA", str(data_dir))
    with pytest.raises(LabelSpecError, match=r"yeast\.arff\.gz.*has 14 labels.*labels=-14"):
        datasets.load("yeast", labels=labels)
    assert datasets.load("yeast", labels=-14).n_labels == 14
