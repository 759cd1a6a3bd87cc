from __future__ import annotations

import bz2
import gzip
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse as sp

from streamlabels.streams import arff
from streamlabels.streams.arff import (
    ArffError,
    ArffStream,
    LabelSpecError,
    load_arff,
    read_header,
)


@pytest.fixture(scope="session")
def manifest(data_dir) -> dict[str, dict]:
    return {d["name"]: d for d in json.loads((data_dir / "manifest.json").read_text())}


_MANIFEST_NAMES = [
    "emotions", "yeast", "scene", "flags", "enron", "medical",
    "tmc2007-500", "bibtex", "delicious", "imdb",
]  # fmt: skip

_raw_counts: dict[str, tuple[int, int]] = {}


def raw_counts(data_dir: Path, entry: dict) -> tuple[int, int]:
    """(rows, total relevant labels) counted straight from the text, without the parser."""
    if entry["name"] not in _raw_counts:
        text = gzip.decompress((data_dir / entry["file"]).read_bytes()).decode()
        body = text[re.search(r"^@data\s*$", text, re.I | re.M).end() :]
        n_attr = entry["n_features"] + entry["n_labels"]
        n_lab = entry["n_labels"]
        if "..." in entry["label_indices"]:
            first = 0 if entry["labels_position"] == "first" else n_attr - n_lab
            positions = set(range(first, first + n_lab))
        else:
            positions = set(entry["label_indices"])
        rows = [r for r in body.splitlines() if r.strip() and not r.startswith("%")]
        total = 0
        for r in rows:
            if r.startswith("{"):
                total += sum(
                    int(i) in positions and v == "1" for i, v in re.findall(r"(\d+) (\S+?)[,}]", r)
                )
            else:
                cells = r.split(",")
                total += sum(int(cells[p]) for p in positions)
        _raw_counts[entry["name"]] = (len(rows), total)
    return _raw_counts[entry["name"]]


# ------------------------------------------------------------- the benchmark files


@pytest.mark.parametrize("name", _MANIFEST_NAMES)
def test_stream_matches_manifest_and_raw_count(data_dir, manifest, name):
    entry = manifest[name]
    stream = ArffStream(data_dir / entry["file"], labels=entry["label_names"])
    assert (stream.n_features, stream.n_labels) == (entry["n_features"], entry["n_labels"])
    assert stream.label_names == entry["label_names"]
    assert stream.sparse == entry["sparse"]
    n = relevant = 0
    for x, y in stream:
        assert list(y) == entry["label_names"]
        assert all(type(v) is bool for v in y.values())
        assert all(type(v) is float for v in x.values())
        n += 1
        relevant += sum(y.values())
    assert n == entry["n_instances"]
    assert (n, relevant) == raw_counts(data_dir, entry)


@pytest.mark.parametrize("name", _MANIFEST_NAMES)
def test_load_arff_matches_manifest_and_raw_count(data_dir, manifest, name):
    entry = manifest[name]
    data = load_arff(data_dir / entry["file"], labels=entry["label_names"])
    assert data.X.shape == (entry["n_instances"], entry["n_features"])
    assert data.Y.shape == (entry["n_instances"], entry["n_labels"])
    assert data.Y.dtype == bool and data.X.dtype == np.float64
    assert sp.issparse(data.X) == entry["sparse"]
    assert (data.Y.shape[0], int(data.Y.sum())) == raw_counts(data_dir, entry)
    assert data.label_names == entry["label_names"]


def test_meka_header_finds_imdb_labels_without_help(data_dir, manifest):
    entry = manifest["imdb"]
    header = read_header(data_dir / entry["file"])
    assert header.meka_labels == 28
    assert header.relation == "IMDB: -C 28"
    assert ArffStream(data_dir / entry["file"]).label_names == entry["label_names"]


def test_yeast_label_order_follows_the_names_not_the_file(data_dir, manifest):
    entry = manifest["yeast"]
    names = entry["label_names"]
    stream = ArffStream(data_dir / entry["file"], labels=names)
    in_file = ArffStream(data_dir / entry["file"], labels=-14)
    assert stream.label_names == names and in_file.label_names != names
    assert sorted(in_file.label_names) == sorted(names)
    for (_, y1), (_, y2) in zip(stream, in_file):
        assert y1 == y2


@pytest.mark.parametrize("name", ["emotions", "enron", "flags"])
def test_stream_and_arrays_agree(data_dir, manifest, name):
    entry = manifest[name]
    path = data_dir / entry["file"]
    data = load_arff(path, labels=entry["label_names"], sparse=False)
    for k, (x, y) in enumerate(ArffStream(path, labels=entry["label_names"])):
        row = dict(zip(data.feature_names, data.X[k].tolist()))
        if entry["sparse"]:
            row = {f: v for f, v in row.items() if v != 0.0}
            x = {f: v for f, v in x.items() if v != 0.0}
        assert x == row
        assert list(y.values()) == data.Y[k].tolist()


@pytest.mark.parametrize("name", ["emotions", "medical"])
def test_sparse_and_dense_arrays_agree(data_dir, manifest, name):
    path = data_dir / manifest[name]["file"]
    labels = manifest[name]["label_names"]
    dense = load_arff(path, labels=labels, sparse=False)
    sparse = load_arff(path, labels=labels, sparse=True)
    assert isinstance(dense.X, np.ndarray) and isinstance(sparse.X, sp.csr_matrix)
    np.testing.assert_array_equal(sparse.X.toarray(), dense.X)
    np.testing.assert_array_equal(sparse.Y, dense.Y)


@pytest.mark.parametrize("name", ["flags", "enron"])
def test_line_by_line_arrays_match_vectorised_arrays(data_dir, manifest, monkeypatch, name):
    path = data_dir / manifest[name]["file"]
    labels = manifest[name]["label_names"]
    fast = load_arff(path, labels, sparse=True)

    def refuse(self):
        raise arff._Fallback

    monkeypatch.setattr(ArffStream, "_triplets_fast", refuse)
    slow = load_arff(path, labels, sparse=True)
    assert (slow.X != fast.X).nnz == 0 and slow.X.nnz == fast.X.nnz
    np.testing.assert_array_equal(slow.Y, fast.Y)


def test_dense_file_rewritten_sparse_reads_the_same(data_dir, manifest, tmp_path):
    entry = manifest["emotions"]
    text = gzip.decompress((data_dir / entry["file"]).read_bytes()).decode()
    head, body = re.split(r"^@data\s*$", text, flags=re.I | re.M)
    rows = []
    for line in body.split("\n"):
        if line.strip():
            cells = line.split(",")
            rows.append(
                "{" + ",".join(f"{i} {c}" for i, c in enumerate(cells) if float(c) != 0) + "}"
            )
    target = tmp_path / "emotions-sparse.arff"
    target.write_text(head + "@data\n" + "\n".join(rows) + "\n")
    labels = entry["label_names"]
    a = load_arff(data_dir / entry["file"], labels=labels)
    b = load_arff(target, labels=labels)
    assert sp.issparse(b.X) and ArffStream(target, labels).sparse
    np.testing.assert_array_equal(b.X.toarray(), a.X)
    np.testing.assert_array_equal(b.Y, a.Y)
    for (x1, y1), (x2, y2) in zip(
        ArffStream(data_dir / entry["file"], labels), ArffStream(target, labels)
    ):
        assert {f: v for f, v in x1.items() if v != 0} == x2
        assert y1 == y2


def _dicts_of_batches(stream: ArffStream, size: int) -> list[tuple[dict, dict]]:
    out = []
    for X, Y in stream.batches(size):
        for i in range(X.shape[0]):
            row = X[[i]]
            x = {stream.feature_names[j]: v for j, v in zip(row.indices, row.data.tolist())}
            out.append((x, dict(zip(stream.label_names, Y[i].tolist()))))
    return out


@pytest.mark.parametrize(("name", "size"), [("medical", 100), ("yeast", 333), ("flags", 1)])
def test_batches_hold_exactly_the_dicts_of_the_stream(data_dir, manifest, name, size):
    stream = ArffStream(data_dir / manifest[name]["file"], labels=manifest[name]["label_names"])
    expected = list(stream)
    got = _dicts_of_batches(stream, size)
    assert got == expected
    assert [list(x) for x, _ in got] == [list(x) for x, _ in expected]  # key order too


# --------------------------------------------------------------- small fixtures

MEKA_FIRST = """\
% a MEKA file: the first two attributes are labels
@relation 'music: -C 2'

@attribute rock {0,1}
@attribute jazz {0,1}
@attribute tempo numeric
@attribute mood {sad,calm,happy}
@data
1,0,120.5,happy
% a comment between rows

0,1,?,sad
{0 1, 1 1, 2 60}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_meka_first_labels_with_nominal_missing_and_comments(tmp_path):
    stream = ArffStream(write(tmp_path, "m.arff", MEKA_FIRST))
    assert stream.label_names == ["rock", "jazz"]
    assert stream.feature_names == ["tempo", "mood"]
    assert not stream.sparse
    assert list(stream) == [
        ({"tempo": 120.5, "mood": 2.0}, {"rock": True, "jazz": False}),
        ({"mood": 0.0}, {"rock": False, "jazz": True}),
        ({"tempo": 60.0}, {"rock": True, "jazz": True}),
    ]
    data = load_arff(tmp_path / "m.arff")
    np.testing.assert_array_equal(data.X, [[120.5, 2.0], [np.nan, 0.0], [60.0, 0.0]])
    assert data.Y.tolist() == [[True, False], [False, True], [True, True]]
    # Blocks keep the dicts' entries: the explicit 0.0 of "sad", no entry for "?".
    assert _dicts_of_batches(stream, 2) == list(stream)


def test_batches_of_quoted_rows_take_the_line_reader_and_agree(tmp_path):
    path = write(tmp_path, "q.arff", MULAN_ARFF)
    write(tmp_path, "q.xml", MULAN_XML)
    stream = ArffStream(path)
    assert _dicts_of_batches(stream, 1) == list(stream)
    with pytest.raises(ValueError, match="size must be at least 1"):
        next(stream.batches(0))


def test_meka_negative_c_takes_the_last_labels(tmp_path):
    path = write(
        tmp_path,
        "last.arff",
        '@RELATION "rel: -C -2 -split 5"\n@ATTRIBUTE f REAL\n@ATTRIBUTE a {0,1}\n'
        "@ATTRIBUTE b INTEGER\n@DATA\n0.5,1,0\n{0 2,2 1}\n",
    )
    assert read_header(path).meka_labels == -2
    stream = ArffStream(path)
    assert stream.label_names == ["a", "b"]
    assert list(stream) == [
        ({"f": 0.5}, {"a": True, "b": False}),
        ({"f": 2.0}, {"a": False, "b": True}),
    ]


def test_numeric_labels_come_out_as_bool(tmp_path):
    path = write(
        tmp_path,
        "num.arff",
        "@relation flags\n@attribute f numeric\n@attribute red numeric\n"
        "@attribute blue real\n@data\n3,1,0\n4,0.0,1.0\n",
    )
    assert list(ArffStream(path, labels=["red", "blue"])) == [
        ({"f": 3.0}, {"red": True, "blue": False}),
        ({"f": 4.0}, {"red": False, "blue": True}),
    ]


MULAN_ARFF = """\
@relation mulan
@attribute 'it\\'s' numeric
@attribute "x \\"y\\"" numeric
@attribute 'a b' numeric
@attribute L1 {0,1}
@attribute L2 {0,1}
@data
1,2,3,0,1
'4',"5",6,1,1
"""

MULAN_XML = """<?xml version="1.0" encoding="utf-8"?>
<labels xmlns="http://mulan.sourceforge.net/labels">
<label name="L2"></label>
<label name="L1"></label>
</labels>
"""


def test_mulan_companion_xml_and_quoted_names(tmp_path):
    path = write(tmp_path, "mul.arff", MULAN_ARFF)
    write(tmp_path, "mul.xml", MULAN_XML)
    stream = ArffStream(path)
    assert stream.label_names == ["L2", "L1"]
    assert stream.feature_names == ["it's", 'x "y"', "a b"]
    rows = list(stream)
    assert rows[1] == (dict(zip(stream.feature_names, [4.0, 5.0, 6.0])), {"L2": True, "L1": True})
    assert rows[0][1] == {"L2": True, "L1": False}


def test_label_xml_by_path_with_nested_labels(tmp_path):
    path = write(tmp_path, "data.arff", MULAN_ARFF)
    xml = write(
        tmp_path,
        "other.xml",
        '<labels xmlns="http://mulan.sourceforge.net/labels">'
        '<label name="L1"><label name="L2"></label></label></labels>',
    )
    assert ArffStream(path, labels=xml).label_names == ["L1", "L2"]
    assert ArffStream(path, labels=str(xml)).label_names == ["L1", "L2"]


def test_labels_by_count_and_by_names(tmp_path):
    path = write(tmp_path, "data.arff", MULAN_ARFF)
    assert ArffStream(path, labels=-2).label_names == ["L1", "L2"]
    by_names = ArffStream(path, labels=["L2", "L1"])
    assert by_names.label_names == ["L2", "L1"]
    assert by_names.n_features == 3 and by_names.n_labels == 2
    assert ArffStream(path, labels=1).label_names == ["it's"]


def test_label_attribute_must_be_binary(tmp_path):
    path = write(tmp_path, "m.arff", MEKA_FIRST)
    with pytest.raises(LabelSpecError, match="'mood'.*cannot be a label"):
        ArffStream(path, labels=["mood"])


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress])
def test_compressed_files_are_detected(tmp_path, compress):
    path = tmp_path / "m.arff.bz2"
    path.write_bytes(compress(MEKA_FIRST.encode()))
    assert list(ArffStream(path)) == list(ArffStream(write(tmp_path, "plain.arff", MEKA_FIRST)))


def test_stream_is_reiterable_and_lazy(tmp_path):
    path = write(
        tmp_path, "lazy.arff", "@relation 'r: -C 1'\n@attribute L {0,1}\n@attribute f numeric\n"
        "@data\n1,2\n0,3\n1,oops\n",
    )
    stream = ArffStream(path)
    assert next(iter(stream)) == ({"f": 2.0}, {"L": True})
    assert next(iter(stream)) == ({"f": 2.0}, {"L": True})
    with pytest.raises(ArffError):
        list(stream)


def test_quoted_values_and_trailing_comments_in_rows(tmp_path):
    path = write(
        tmp_path,
        "q.arff",
        "@relation 'r: -C 1'\n@attribute L {0,1}\n@attribute 'c' {'a b', 'c,d'}\n"
        "@attribute n numeric\n@data\n1,'c,d',2 % comment\n{1 'a b', 2 5} % comment\n",
    )
    assert list(ArffStream(path)) == [
        ({"c": 1.0, "n": 2.0}, {"L": True}),
        ({"c": 0.0, "n": 5.0}, {"L": False}),
    ]
    np.testing.assert_array_equal(load_arff(path).X, [[1.0, 2.0], [0.0, 5.0]])


# -------------------------------------------------------------------- errors

HEADER = "% header\n@relation 'r: -C 1'\n@attribute L {0,1}\n@attribute a numeric\n" \
    "@attribute b numeric\n@attribute c {x,y}\n@data\n"  # fmt: skip
# Data lines start at line 8.


def error_of(tmp_path: Path, rows: str, labels=None) -> ArffError:
    path = write(tmp_path, "bad.arff", HEADER + rows)
    with pytest.raises(ArffError) as streamed:
        list(ArffStream(path, labels))
    with pytest.raises(ArffError) as loaded:
        load_arff(path, labels)
    with pytest.raises(ArffError) as blocks:
        list(ArffStream(path, labels).batches(2))
    assert str(streamed.value) == str(loaded.value) == str(blocks.value)
    assert streamed.value.path == str(path)
    return streamed.value


@pytest.mark.parametrize(
    ("rows", "line", "expected"),
    [
        ("1,2,3,x\n0,1,2\n", 9, "expected 4 values in a dense row, got 3"),
        ("1,2,3,x\n\n% c\n0,1,2,y,5\n", 11, "expected 4 values in a dense row, got 5"),
        ("1,2,abc,x\n", 8, "'b' is numeric but the value is 'abc'"),
        ("1,2,3,z\n", 8, "value 'z' of attribute 'c' is not one of {x,y}"),
        ("2,2,3,x\n", 8, "label 'L' has value '2'; expected 0 or 1"),
        ("?,2,3,x\n", 8, "label 'L' is missing"),
        ("{0 1, 1 2\n", 8, "unterminated sparse row"),
        ("{0 1, 7 2}\n", 8, "sparse index 7 out of range: the file declares 4 attributes"),
        ("{0 1, 1 2 3}\n", 8, "malformed sparse entry '1 2 3'"),
        ("{1 1, 0 1}\n", 8, "sparse indices must increase"),
        ("{a 1}\n", 8, "sparse index 'a' is not a non-negative integer"),
        ("1,2,3,'x\n", 8, "unterminated quoted string"),
    ],
)
def test_row_errors_name_file_line_and_expectation(tmp_path, rows, line, expected):
    err = error_of(tmp_path, rows)
    assert err.line == line
    assert str(err).startswith(f"{tmp_path / 'bad.arff'}:{line}: ")
    assert expected in str(err)


def test_missing_data_section(tmp_path):
    path = write(tmp_path, "nodata.arff", "@relation r\n@attribute a numeric\n")
    with pytest.raises(ArffError, match=r"nodata\.arff: no @data section"):
        read_header(path)


def test_bad_attribute_type_names_its_line(tmp_path):
    path = write(tmp_path, "t.arff", "@relation r\n@attribute a numeric\n"
                 "@attribute b bogus\n@data\n")  # fmt: skip
    with pytest.raises(ArffError, match=r"t\.arff:3: attribute 'b' has type 'bogus'"):
        read_header(path)


def test_string_feature_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, "s.arff", "@relation 'r: -C 1'\n@attribute L {0,1}\n"
                 "@attribute id string\n@data\n")  # fmt: skip
    with pytest.raises(ArffError, match=r"s\.arff:3: attribute 'id' has type string"):
        ArffStream(path)


def test_truncated_gzip_is_an_arff_error(data_dir, manifest, tmp_path):
    blob = (data_dir / manifest["emotions"]["file"]).read_bytes()
    path = tmp_path / "cut.arff.gz"
    path.write_bytes(blob[: len(blob) // 2])
    labels = manifest["emotions"]["label_names"]
    with pytest.raises(ArffError, match=r"cut\.arff\.gz:\d+: cannot read the file"):
        list(ArffStream(path, labels))


def test_missing_label_spec_says_what_to_pass(tmp_path):
    path = write(tmp_path, "plain.arff", "@relation plain\n@attribute a numeric\n"
                 "@attribute b {0,1}\n@data\n1,0\n")  # fmt: skip
    with pytest.raises(LabelSpecError) as err:
        ArffStream(path)
    message = str(err.value)
    assert "plain.arff" in message and "plain.xml" in message
    assert "labels=" in message and "--labels" in message


def test_unknown_label_name_suggests_the_closest(tmp_path):
    path = write(tmp_path, "data.arff", MULAN_ARFF)
    with pytest.raises(LabelSpecError, match=r"data\.arff: .*\['L_2'\] \(did you mean 'L2'\?\)"):
        ArffStream(path, labels=["L1", "L_2"])


def test_arff_error_pickles():
    err = pickle.loads(pickle.dumps(ArffError("f.arff", 3, "bad")))
    assert (err.path, err.line, str(err)) == ("f.arff", 3, "f.arff:3: bad")


def test_a_label_count_against_the_file_s_declaration_is_refused(tmp_path):
    meka = write(
        tmp_path, "meka.arff",
        "@relation 'r: -C 2'\n@attribute a {0,1}\n@attribute b {0,1}\n@attribute f numeric\n"
        "@attribute g numeric\n@data\n1,0,0.5,1\n",
    )
    with pytest.raises(LabelSpecError, match=r"meka\.arff.*declares 2 labels.*labels=3"):
        ArffStream(meka, labels=3)
    assert ArffStream(meka, labels=2).label_names == ["a", "b"]
    mulan = write(tmp_path, "mul.arff", MULAN_ARFF)
    write(tmp_path, "mul.xml", MULAN_XML)
    with pytest.raises(LabelSpecError, match=r"mul\.xml declares 2 labels.*labels=-1"):
        ArffStream(mulan, labels=-1)


# Six labels last, as in emotions; two numeric features just before them.
SIX_LABELS = (
    "@relation six\n@attribute f1 numeric\n@attribute f2 numeric\n@attribute loud numeric\n"
    "@attribute calm numeric\n"
    + "".join(f"@attribute L{k} {{0,1}}\n" for k in range(6))
    + "@data\n1.5,2,0,1,1,0,0,1,0,0\n3,4,1,0.25,0,1,1,0,0,1\n"
)


@pytest.mark.parametrize("sparse_rows", [False, True])
def test_features_read_as_labels_are_refused_naming_file_line_and_column(tmp_path, sparse_rows):
    """labels=-8 on a file with six labels also reads the features 'loud' and 'calm' as labels:
    row 2 holds 0.25 in 'calm', which no label can hold. Streaming, batches and arrays refuse it
    alike, naming the file, the line and the column."""
    text = SIX_LABELS
    if sparse_rows:
        head, body = text.split("@data\n")
        rows = [
            "{" + ",".join(f"{i} {v}" for i, v in enumerate(r.split(",")) if v != "0") + "}"
            for r in body.split()
        ]
        text = head + "@data\n" + "\n".join(rows) + "\n"
    path = write(tmp_path, "six.arff", text)
    assert ArffStream(path, labels=-6).n_labels == 6  # the right spec reads it
    with pytest.raises(ArffError) as streamed:
        list(ArffStream(path, labels=-8))
    with pytest.raises(ArffError) as loaded:
        load_arff(path, labels=-8)
    with pytest.raises(ArffError) as blocks:
        list(ArffStream(path, labels=-8).batches(5))
    message = str(streamed.value)
    assert message == str(loaded.value) == str(blocks.value)
    assert message.startswith(f"{path}:14: label 'calm' has value '0.25'; expected 0 or 1")
    assert "label specification" in message
