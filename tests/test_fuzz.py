"""Hostile inputs: fuzzed ARFF files, message payloads and checkpoint blobs, and security rules.

Every reader of outside bytes has one documented way to say no (``ArffError`` or
``LabelSpecError``, ``InvalidMessage`` with a reason, ``StateError``); anything else escaping is a
crash of the caller. Each fuzz target runs a few hundred derandomised cases in the default suite
and 10,000 random ones under ``-m slow`` (``STREAMLABELS_FUZZ_EXAMPLES`` changes that number).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import math
import os
import re
import struct
import tempfile
from numbers import Real
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamlabels import IHOMER
from streamlabels.state import StateError, loads
from streamlabels.streams import SyntheticStream, datasets
from streamlabels.streams.arff import ArffError, ArffStream, LabelSpecError, load_arff, read_header
from streamlabels_service.checkpoint import CheckpointStore
from streamlabels_service.codec import REASONS, Codec, InvalidMessage, dead_letter_headers
from streamlabels_service.config import ServiceConfig
from streamlabels_service.consumer import Service
from streamlabels_service.telemetry import Metrics, TelemetryServer, configure_logging

REPO = Path(__file__).resolve().parents[1]
QUICK = 200
FULL = int(os.environ.get("STREAMLABELS_FUZZ_EXAMPLES", "10000"))
BUDGETS = [
    pytest.param(QUICK, id="quick"),
    pytest.param(FULL, id="full", marks=pytest.mark.slow),
]


def fuzz(budget: int, strategy, check) -> None:
    """Run ``check`` on ``budget`` cases drawn from ``strategy`` (derandomised when quick)."""

    @settings(
        max_examples=budget,
        deadline=None,
        database=None,
        derandomize=budget <= QUICK,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(case):
        check(case)

    run()


# -- mutations shared by the targets ----------------------------------------------------------


@st.composite
def mutated(draw, seeds: list[bytes], tokens: list[bytes]) -> bytes:
    """A seed with a few byte flips, token insertions, line drops or repeats, or a truncation."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "drop_line", "repeat_line", "truncate"]))
        if not data:
            data = bytearray(draw(st.binary(max_size=64)))
            continue
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            token = draw(st.sampled_from(tokens) | st.binary(min_size=1, max_size=12))
            data[at:at] = token
        elif kind in ("drop_line", "repeat_line"):
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end + 1
            data[start:end] = b"" if kind == "drop_line" else data[start:end] * 2
        else:
            del data[at:]
    return bytes(data)


# -- ARFF files -------------------------------------------------------------------------------

ARFF_TOKENS = [
    token.encode()
    for token in (
        "@data\n", "@attribute ", "@relation ", "\n@attribute x {0,1}\n", "{", "}", ",", "'", '"',
        "%", "?", "\\", " -C ", "-C -999 ", "nan", "inf", "-1e999", "99999999999999999999",
        "\n", "\r\n", "\t", "{0 1}", "{}", "0,", " numeric", " string", " date", "\x00", "é",
        "@attribute {0,1}\n", "{9999999999999999999999 1}", "'unterminated", "\\'",
    )
] + [b"\xff\xfe", b"\x1f\x8b", b"BZh"]


def _prefix(name: str, rows: int) -> tuple[bytes, list[str]]:
    """The header and the first ``rows`` data lines of a real dataset, and its label names."""
    path = datasets.locate(name)
    text = gzip.decompress(path.read_bytes()).decode()
    lines = text.splitlines(keepends=True)
    data_at = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data")
    return "".join(lines[: data_at + 1 + rows]).encode(), list(datasets.info(name).label_names)


@pytest.fixture(scope="module")
def arff_seeds(data_dir) -> list[tuple[bytes, list[str]]]:
    """Small prefixes of dense (yeast, emotions, flags) and sparse (medical, enron) real files."""
    return [_prefix(name, 6) for name in ("yeast", "emotions", "flags", "medical", "enron")]


def _read_all(path: Path, labels) -> None:
    """Every public way in: header, stream, dense and sparse arrays; the documented errors only."""
    for attempt in (
        lambda: read_header(path),
        lambda: list(ArffStream(path, labels)),
        lambda: load_arff(path, labels, sparse=False),
        lambda: load_arff(path, labels, sparse=True),
    ):
        try:
            attempt()
        except ArffError as error:
            assert error.reason and str(path) in str(error)
        except LabelSpecError as error:
            assert str(error)


def _stream_and_arrays_agree(path: Path, labels) -> None:
    """The streaming and array readers accept the same files and read the same rows."""
    try:
        rows = list(ArffStream(path, labels))
    except (ArffError, LabelSpecError) as error:
        with pytest.raises(type(error)) as caught:
            load_arff(path, labels, sparse=False)
        assert str(caught.value) == str(error)
        return
    data = load_arff(path, labels, sparse=False)
    assert data.X.shape[0] == len(rows) == data.Y.shape[0]
    for (x, y), X_row, Y_row in zip(rows, data.X, data.Y):
        assert list(y.values()) == Y_row.tolist()
        for k, name in enumerate(data.feature_names):
            value = x.get(name, math.nan if X_row[k] != X_row[k] else 0.0)
            assert value == X_row[k] or (value != value and X_row[k] != X_row[k])


@pytest.mark.parametrize("budget", BUDGETS)
def test_arff_readers_refuse_mutated_real_files_with_their_documented_errors(budget, arff_seeds):
    texts = [text for text, _ in arff_seeds]
    labels_of = dict(arff_seeds)
    gzipped = st.tuples(mutated(texts, ARFF_TOKENS), st.booleans(), st.integers(0, 400))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.arff"

        def check(case):
            (data, compress, cut), seed = case
            if compress:  # a gzip file, whole or cut anywhere (also inside the trailer)
                data = gzip.compress(data)
                data = data[: len(data) - cut] if cut < len(data) else data
            path.write_bytes(data)
            for labels in (labels_of[seed], None, -3):
                _read_all(path, labels)
            if not compress:
                _stream_and_arrays_agree(path, labels_of[seed])

        fuzz(budget, st.tuples(gzipped, st.sampled_from(texts)), check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_arff_readers_refuse_random_files_with_their_documented_errors(budget):
    tokens = st.sampled_from([t.decode("latin-1") for t in ARFF_TOKENS])
    lines = st.lists(tokens | st.text(max_size=20), max_size=12).map("".join)
    files = st.lists(lines, max_size=14).map(lambda ls: "\n".join(ls).encode("utf-8", "replace"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.arff"

        def check(data: bytes):
            path.write_bytes(data)
            for labels in (None, 1, -1, ["x"]):
                _read_all(path, labels)

        fuzz(budget, files | st.binary(max_size=300), check)


# -- messages ---------------------------------------------------------------------------------

LABELS = ["a", "b", "c"]
_numbers = (
    st.floats()
    | st.integers()
    | st.integers(min_value=2**1023, max_value=2**1100)
    | st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, True, 2**64])
)
_leaves = st.none() | st.booleans() | _numbers | st.text(max_size=8)
_values = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)
_ids = st.integers() | st.text(max_size=8) | _values
_messages = st.fixed_dictionaries(
    {
        "id": _ids,
        "x": st.dictionaries(st.text(max_size=6), _numbers | _leaves, max_size=6) | _values,
    },
    optional={
        "y": st.lists(st.sampled_from(LABELS) | st.text(max_size=3) | _leaves, max_size=5)
        | _values,
        "pad": st.text(max_size=50),
    },
)
_MESSAGE_TOKENS = [
    b"NaN", b"Infinity", b"-Infinity", b"1e999", b"9" * 400, b'"\\ud800"', b"[", b"]", b"{", b"}",
    b",", b":", b'"', b"\\", b"\x00", b"\xc0", b"null", b"true", b"\xc1", b"\xd9\xff",
]


def _json(message) -> bytes:
    return json.dumps(message).encode()


def _msgpack(message) -> bytes:
    try:
        return msgpack.packb(message)
    except (OverflowError, ValueError, TypeError):  # ints beyond 64 bits have no msgpack form
        return msgpack.packb(json.loads(json.dumps(message, default=str)), default=str)


def _check_decode(codec: Codec, raw: bytes) -> None:
    """Decode one payload and do what the service does next: dead-letter it or key a prediction."""
    try:
        instance = codec.decode(raw)
    except InvalidMessage as error:
        assert error.reason in REASONS
        assert isinstance(error.detail, str) and error.detail
        dead_letter_headers(error, "in", 0, 7)  # every header value encodes
        return
    assert isinstance(instance.id, (str, int)) and not isinstance(instance.id, bool)
    assert len(instance.x) <= codec.max_features
    for name, value in instance.x.items():
        assert isinstance(name, str)
        assert isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    assert instance.y is None or (
        list(instance.y) == codec.labels and all(type(v) is bool for v in instance.y.values())
    )
    str(instance.id).encode()  # the prediction's Kafka key
    codec.encode_prediction(instance.id, {}, {}, 0)


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
@pytest.mark.parametrize("budget", BUDGETS)
def test_codec_refuses_random_and_mutated_payloads_only_with_a_reason(budget, fmt):
    codec = Codec(LABELS, format=fmt, max_message_bytes=600, max_features=4, max_labels=3)
    encode = _json if fmt == "json" else _msgpack
    good = [
        codec.encode_instance(i, {f"f{k}": k * 0.5 - i for k in range(i % 5)}, LABELS[: i % 4])
        for i in range(6)
    ] + [b'{"id": "s", "x": {"f": 1e308}, "y": []}']
    payloads = (
        _messages.map(encode)
        | _values.map(encode)
        | mutated(good, _MESSAGE_TOKENS)
        | st.binary(max_size=200)
    )
    fuzz(budget, payloads, lambda raw: _check_decode(codec, raw))


def test_message_ids_that_cannot_key_a_kafka_record_are_refused():
    codec = Codec(LABELS)
    with pytest.raises(InvalidMessage) as caught:
        codec.decode(b'{"id": "a\\ud800", "x": {}}')
    assert caught.value.reason == "bad_id"
    with pytest.raises(InvalidMessage, match="non_finite"):
        codec.decode(b'{"id": 1, "x": {"f": 1' + b"0" * 400 + b"}}")


# -- checkpoints ------------------------------------------------------------------------------

_HEADER = struct.Struct("<8sIQQ")


def _resigned(manifest: dict, body: bytes) -> bytes:
    """A blob with a valid header and hash around an edited manifest (a bug, or a forgery)."""
    text = json.dumps(manifest, separators=(",", ":")).encode()
    head = _HEADER.pack(b"SLSTATE\x00", 1, len(text), len(body)) + text + body
    return head + hashlib.sha256(head).digest()


def _split(blob: bytes) -> tuple[dict, bytes]:
    _, _, manifest_len, body_len = _HEADER.unpack_from(blob)
    start = _HEADER.size
    manifest = json.loads(blob[start : start + manifest_len])
    return manifest, blob[start + manifest_len : start + manifest_len + body_len]


def _nodes(tree, path=()):
    """Paths of every node of a JSON tree."""
    yield path
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _nodes(value, (*path, i))


@st.composite
def edited_manifests(draw, blob: bytes) -> bytes:
    """The checkpoint with one to three manifest nodes replaced, dropped or given a wrong type."""
    manifest, body = _split(blob)
    paths = list(_nodes(manifest))[1:]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        parent = manifest
        try:
            for step in path[:-1]:
                parent = parent[step]
            if draw(st.booleans()) and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(_values)
        except (KeyError, IndexError, TypeError):  # an earlier edit removed or replaced the path
            continue
    return _resigned(manifest, body)


@pytest.fixture(scope="module")
def checkpoint_blob(tmp_path_factory) -> bytes:
    stream = SyntheticStream(n_instances=260, n_features=6, n_labels=5, seed=11)
    model = IHOMER(labels=stream.label_names, n_min=60)
    for x, y in stream:
        model.predict_one(x)
        model.learn_one(x, y)
    store = CheckpointStore(tmp_path_factory.mktemp("ckpt"))
    path = store.save(model, {("in", 0): 260}, {"labels": list(model.labels)})
    return path.read_bytes()


@pytest.mark.parametrize("budget", BUDGETS)
def test_state_and_checkpoint_loaders_refuse_damaged_blobs_with_documented_errors(
    budget, checkpoint_blob
):
    tokens = [b"\x00" * 8, b"SLSTATE\x00", b"\xff" * 4, b'{"$":"array","i":99}']
    blobs = (
        mutated([checkpoint_blob], tokens)
        | edited_manifests(checkpoint_blob)
        | st.binary(max_size=120)
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint-000000000001.state"

        def check(blob: bytes):
            try:
                loads(blob)
            except StateError as error:
                assert str(error)
            path.write_bytes(blob)
            try:
                restored = CheckpointStore.load(path)
            except StateError as error:
                assert str(error)
                return
            assert isinstance(restored.model, IHOMER) and isinstance(restored.metadata, dict)
            assert all(isinstance(o, int) for o in restored.offsets.values())

        fuzz(budget, blobs, check)


def test_flipped_or_cut_checkpoints_never_load(checkpoint_blob, tmp_path):
    store = CheckpointStore(tmp_path)
    path = tmp_path / "checkpoint-000000000001.state"
    for at in range(0, len(checkpoint_blob), max(1, len(checkpoint_blob) // 97)):
        for damaged in (
            checkpoint_blob[:at],
            checkpoint_blob[:at] + bytes([checkpoint_blob[at] ^ 0x10]) + checkpoint_blob[at + 1 :],
        ):
            path.write_bytes(damaged)
            with pytest.raises(StateError):
                CheckpointStore.load(path)
            assert store.load_latest() is None


# -- resource limits --------------------------------------------------------------------------


def test_message_limits_are_settings_with_documented_defaults_that_reach_the_codec():
    defaults = ServiceConfig.from_sources({"labels": "a,b,c"}, {})
    assert (defaults.max_message_bytes, defaults.max_features, defaults.max_labels) == (
        1_048_576,
        100_000,
        None,
    )
    codec = Service(defaults).codec
    limits = (codec.max_message_bytes, codec.max_features, codec.max_labels)
    assert limits == (1_048_576, 100_000, 3)
    tight = ServiceConfig.from_sources(
        {"labels": "a,b,c"},
        {
            "STREAMLABELS_MAX_MESSAGE_BYTES": "300",
            "STREAMLABELS_MAX_FEATURES": "2",
            "STREAMLABELS_MAX_LABELS": "1",
        },
    )
    codec = Service(tight).codec
    for raw, reason in [
        (codec.encode_instance(1, {"f": 1.0}, ["a"]) + b" " * 300, "too_large"),
        (codec.encode_instance(2, {"f": 1.0, "g": 2.0, "h": 3.0}, None), "too_many_features"),
        (codec.encode_instance(3, {"f": 1.0}, ["a", "b"]), "too_many_labels"),
    ]:
        with pytest.raises(InvalidMessage) as caught:
            codec.decode(raw)
        assert caught.value.reason == reason
    for limit in ("max_message_bytes", "max_features"):
        with pytest.raises(ValueError, match=limit):
            ServiceConfig.from_sources({limit: "0"}, {})


# -- security ---------------------------------------------------------------------------------

_UNSAFE = re.compile(
    r"^\s*(import|from)\s+(pickle|cPickle|_pickle|dill|cloudpickle|joblib|shelve|marshal)\b"
    r"|allow_pickle\s*=\s*True|\bpickle\.loads?\(|torch\.load\(",
    re.MULTILINE,
)


def test_no_pickle_anywhere_in_persistence():
    sources = [path for part in ("streamlabels", "service") for path in (REPO / part).rglob("*.py")]
    assert len(sources) > 20
    offenders = [
        f"{path.relative_to(REPO)}: {match.group(0).strip()}"
        for path in sources
        for match in _UNSAFE.finditer(path.read_text())
    ]
    assert offenders == []


def test_telemetry_binds_loopback_unless_configured(monkeypatch):
    bound = []

    class Recorder:
        def __init__(self, metrics, healthy, host, port):
            self.host, self.port = host, port
            bound.append(host)

        def close(self):
            pass

    class Stop(Exception):
        pass

    def refuse_to_connect(self):
        raise Stop

    monkeypatch.setattr("streamlabels_service.session.TelemetryServer", Recorder)
    monkeypatch.setattr(Service, "_connect", refuse_to_connect)
    for flags, expected in [({}, "127.0.0.1"), ({"metrics_host": "0.0.0.0"}, "0.0.0.0")]:
        config = ServiceConfig.from_sources({"labels": "a,b", "metrics_port": "0", **flags}, {})
        with pytest.raises(Stop):
            Service(config).run()
        assert bound[-1] == expected
    server = TelemetryServer(Metrics(), lambda: True, port=0)
    try:
        assert server._server.server_address[0] == "127.0.0.1"
    finally:
        server.close()


def test_security_settings_reach_both_kafka_clients_under_their_kafka_python_names(monkeypatch):
    from kafka import KafkaConsumer, KafkaProducer

    made = {}

    class Client:
        def __init__(self, **kwargs):
            made[type(self).__name__] = kwargs

        def subscribe(self, topics, listener=None):
            pass

    clients = "streamlabels_service.clients"
    monkeypatch.setattr(f"{clients}.KafkaProducer", type("Producer", (Client,), {}))
    monkeypatch.setattr(f"{clients}.KafkaConsumer", type("Consumer", (Client,), {}))
    secret = "pw-" + os.urandom(6).hex()
    config = ServiceConfig.from_sources(
        {
            "labels": "a,b",
            "bootstrap_servers": "10.0.0.1:9093,10.0.0.2:9093",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "svc",
            "ssl_cafile": "/etc/ca.pem",
            "ssl_certfile": "/etc/client.pem",
            "ssl_keyfile": "/etc/client.key",
        },
        {"STREAMLABELS_SASL_PLAIN_PASSWORD": secret},
    )
    Service(config)._connect()
    expected = {
        "bootstrap_servers": ["10.0.0.1:9093", "10.0.0.2:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc",
        "sasl_plain_password": secret,
        "ssl_cafile": "/etc/ca.pem",
        "ssl_certfile": "/etc/client.pem",
        "ssl_keyfile": "/etc/client.key",
    }
    for name, real in (("Producer", KafkaProducer), ("Consumer", KafkaConsumer)):
        kwargs = made[name]
        assert {k: kwargs[k] for k in expected} == expected
        assert set(kwargs) <= set(real.DEFAULT_CONFIG), set(kwargs) - set(real.DEFAULT_CONFIG)
    plain = ServiceConfig.from_sources({"labels": "a"}, {})
    assert plain.kafka_security() == {"security_protocol": "PLAINTEXT"}


def test_the_password_stays_out_of_logs_reprs_and_checkpoints(tmp_path):
    secret = "pw-" + os.urandom(6).hex()
    config = ServiceConfig.from_sources(
        {"labels": "a,b", "checkpoint_dir": str(tmp_path), "sasl_plain_username": "svc",
         "scaling": "standard"},  # the model is built at once, not from a first batch
        {"STREAMLABELS_SASL_PLAIN_PASSWORD": secret},
    )
    out = io.StringIO()
    configure_logging("DEBUG", secrets=[secret], stream=out)
    try:
        learned = Service(config).pipeline.learned
        learned.restore()
        learned.served(0)
        learned.checkpoint({})
        logging.getLogger("service.test").debug("config %s", config)
    finally:
        configure_logging("WARNING")
    written = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert "checkpoint written" in out.getvalue()
    assert secret not in out.getvalue() and secret.encode() not in written
    assert secret not in repr(config) and secret not in str(config.redacted())
