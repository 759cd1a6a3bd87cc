"""A pickle-free, hash-checked byte format for model state: nested plain values and numpy arrays.

Checkpoints are read back after crashes and may come from disk or a Kafka topic, so loading must
never run code (pickle can) and must refuse damaged bytes as a whole rather than half-load them.
A blob is laid out as::

    magic (8) | version (u32) | manifest length (u64) | body length (u64)
    | manifest: UTF-8 JSON | body: raw little-endian array bytes | sha256 of all the above (32)

The manifest holds the structure, with each array replaced by a placeholder pointing into an
array table (dtype, shape, offset, byte length). Values JSON cannot carry exactly get a tagged
object ``{"$": kind, ...}``: arrays, tuples, non-finite floats, and dicts that use the key ``"$"``
themselves. Dict insertion order is kept, tuples come back as tuples, numpy scalars come back as
the Python ``bool``, ``int`` or ``float`` of the same value.

Every saved format (the IHOMER model state, service checkpoints, ``replay --save`` files) puts its
body in one envelope, ``{"kind": ..., "version": ..., **body}`` (:func:`wrap`), and is read back
through one check of both (:func:`unwrap`); :func:`seal` and :func:`unseal` do the same on bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Iterable

import numpy as np

__all__ = ["FORMAT_VERSION", "StateError", "dumps", "loads", "seal", "unseal", "unwrap", "wrap"]

MAGIC = b"SLSTATE\x00"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sIQQ")
_DIGEST = 32
_ENVELOPE = ("kind", "version")
# Numeric and bool dtypes only: object arrays would need pickle, strings are not model state.
_DTYPES = frozenset(
    np.dtype(code).newbyteorder("<").str
    for code in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16")
)


class StateError(ValueError):
    """The state cannot be encoded, or the bytes are not a valid, intact state blob."""


def dumps(state: dict) -> bytes:
    """Encode ``state`` (a dict of nested plain values and numeric numpy arrays) as bytes.

    Raises
    ------
    StateError
        For a value of another type, a dict key that is not a str, or an array of a dtype that is
        not numeric or bool.

    Examples
    --------
    >>> import numpy as np
    >>> blob = dumps({"w": np.arange(3.0), "n": 2**70, "eps": float("inf"), "pair": (1, "a")})
    >>> out = loads(blob)
    >>> out["w"], out["n"], out["eps"], out["pair"]
    (array([0., 1., 2.]), 1180591620717411303424, inf, (1, 'a'))
    """
    if not isinstance(state, dict):
        raise StateError(f"state must be a dict, got {type(state).__name__}")
    arrays: list[np.ndarray] = []
    tree = _encode(state, arrays, "state")
    table, chunks, offset = [], [], 0
    for array in arrays:
        data = array.tobytes()
        table.append(
            {
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "offset": offset,
                "nbytes": len(data),
            }
        )
        chunks.append(data)
        offset += len(data)
    manifest = json.dumps(
        {"tree": tree, "arrays": table},
        allow_nan=False,
        separators=(",", ":"),
    ).encode("utf-8")
    body = b"".join(chunks)
    head = _HEADER.pack(MAGIC, FORMAT_VERSION, len(manifest), len(body)) + manifest + body
    return head + hashlib.sha256(head).digest()


def loads(data: bytes) -> dict:
    """Decode bytes from :func:`dumps`; any damage raises :class:`StateError`, nothing else.

    Checks, in order: magic, version, the declared lengths against the actual length (so
    truncation and trailing bytes are caught), the sha256, then the manifest and array table.

    >>> loads(b"not a state")
    Traceback (most recent call last):
    ...
    streamlabels.state.StateError: not a streamlabels state: 11 bytes, shorter than the ...
    """
    try:
        return _loads(bytes(data))
    except StateError:
        raise
    except Exception as exc:  # a blob that passed the hash but is malformed: refuse it as a whole
        raise StateError(f"malformed streamlabels state: {type(exc).__name__}: {exc}") from exc


def wrap(kind: str, version: int, body: dict) -> dict:
    """``body`` in the envelope every saved format shares: ``{"kind": kind, "version": version,
    **body}``. The kind says what the state is, the version which layout its body has, so a reader
    can refuse a foreign or newer state before it looks inside (:func:`unwrap`).

    >>> wrap("demo", 2, {"n": 5})
    {'kind': 'demo', 'version': 2, 'n': 5}
    """
    taken = [key for key in _ENVELOPE if key in body]
    if taken:
        raise StateError(f"the body of a {kind} state cannot use the envelope's keys {taken}")
    return {"kind": kind, "version": version, **body}


def unwrap(state: dict, kind: str, versions: Iterable[int]) -> tuple[int, dict]:
    """The version and body of a :func:`wrap` envelope, once its kind and version are checked.

    States written before the envelope named the two ``format`` and ``format_version`` (service
    checkpoints of version 1) or ``format`` and ``version`` (scoring snapshots); they are read
    as if wrapped, so old files keep loading.

    Raises
    ------
    StateError
        ``state`` is not a dict, is of another kind, or has a version not in ``versions``; the
        message names what was found and what is read.

    >>> unwrap(wrap("demo", 2, {"n": 5}), "demo", (1, 2))
    (2, {'n': 5})
    >>> unwrap(wrap("demo", 3, {"n": 5}), "demo", (1, 2))
    Traceback (most recent call last):
    ...
    streamlabels.state.StateError: demo state of version 3: this streamlabels reads versions 1, 2
    """
    readable = tuple(versions)
    if not isinstance(state, dict):
        raise StateError(f"not a {kind} state: found a {type(state).__name__}, not a dict")
    keys = _envelope_keys(state)
    found_kind, found_version = (state.get(key) for key in keys)
    if not isinstance(found_kind, str) or found_kind != kind:
        found = "it names no kind" if found_kind is None else f"its kind is {found_kind!r}"
        raise StateError(f"not a {kind} state: {found}")
    if type(found_version) is not int or found_version not in readable:
        raise StateError(
            f"{kind} state of version {found_version!r}: this streamlabels reads versions "
            + ", ".join(map(str, readable))
        )
    return found_version, {key: value for key, value in state.items() if key not in keys}


def seal(kind: str, version: int, body: dict) -> bytes:
    """:func:`wrap` then :func:`dumps`: the bytes of a saved state of ``kind``."""
    return dumps(wrap(kind, version, body))


def unseal(data: bytes, kind: str, versions: Iterable[int]) -> tuple[int, dict]:
    """:func:`loads` then :func:`unwrap`: the version and body of bytes from :func:`seal`."""
    return unwrap(loads(data), kind, versions)


def _envelope_keys(state: dict) -> tuple[str, str]:
    """The keys holding a state's kind and version: the envelope's, or a legacy pair."""
    if "kind" in state or "format" not in state:
        return _ENVELOPE
    return ("format", "format_version") if "format_version" in state else ("format", "version")


def _loads(data: bytes) -> dict:
    minimum = _HEADER.size + _DIGEST
    if len(data) < minimum:
        raise StateError(
            f"not a streamlabels state: {len(data)} bytes, shorter than the {minimum}-byte minimum"
        )
    magic, version, manifest_len, body_len = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise StateError(f"not a streamlabels state: bad magic bytes {magic!r}")
    if version != FORMAT_VERSION:
        raise StateError(
            f"unsupported state format version {version} (this streamlabels reads version "
            f"{FORMAT_VERSION})"
        )
    expected = _HEADER.size + manifest_len + body_len + _DIGEST
    if len(data) != expected:
        raise StateError(
            f"state is {len(data)} bytes but its header declares {expected}: truncated or with "
            "trailing bytes"
        )
    if hashlib.sha256(data[:-_DIGEST]).digest() != data[-_DIGEST:]:
        raise StateError("state checksum mismatch: the bytes are corrupted")
    start = _HEADER.size
    manifest = json.loads(data[start : start + manifest_len].decode("utf-8"))
    if not isinstance(manifest, dict) or set(manifest) != {"tree", "arrays"}:
        raise StateError("malformed streamlabels state: bad manifest")
    body = data[start + manifest_len : -_DIGEST]
    arrays = [_array(entry, body, n) for n, entry in enumerate(_table(manifest["arrays"], body))]
    state = _decode(manifest["tree"], arrays)
    if not isinstance(state, dict):
        raise StateError("malformed streamlabels state: the top level is not a dict")
    return state


def _table(table, body: bytes) -> list[dict]:
    """The array table, checked to tile the body exactly: no gap, no overlap, no excess."""
    if not isinstance(table, list):
        raise StateError("malformed streamlabels state: the array table is not a list")
    offset = 0
    for entry in table:
        if entry["offset"] != offset:
            raise StateError("malformed streamlabels state: arrays do not tile the body")
        offset += entry["nbytes"]
    if offset != len(body):
        raise StateError("malformed streamlabels state: array bytes do not fill the body")
    return table


def _array(entry: dict, body: bytes, n: int) -> np.ndarray:
    if entry["dtype"] not in _DTYPES:
        raise StateError(f"array {n}: dtype {entry['dtype']!r} is not allowed")
    dtype = np.dtype(entry["dtype"])
    shape = tuple(entry["shape"])
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise StateError(f"array {n}: bad shape {entry['shape']!r}")
    count = math.prod(shape)
    if count * dtype.itemsize != entry["nbytes"]:
        raise StateError(f"array {n}: {entry['nbytes']} bytes do not hold shape {shape} {dtype}")
    flat = np.frombuffer(body, dtype=dtype, count=count, offset=entry["offset"])
    return flat.reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def _encode(value, arrays: list, path: str):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"$": "float", "v": repr(float(value))}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return _encode(value.item(), arrays, path)
    if isinstance(value, np.ndarray):
        dtype = value.dtype.newbyteorder("<") if value.dtype.byteorder != "|" else value.dtype
        if dtype.str not in _DTYPES:
            raise StateError(f"{path}: arrays of dtype {value.dtype} cannot be stored")
        arrays.append(value.astype(dtype, order="C", copy=False))
        return {"$": "array", "i": len(arrays) - 1}
    if isinstance(value, tuple):
        items = [_encode(v, arrays, f"{path}[{i}]") for i, v in enumerate(value)]
        return {"$": "tuple", "v": items}
    if isinstance(value, list):
        return [_encode(v, arrays, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise StateError(f"{path}: dict keys must be str, got {key!r}")
            out[key] = _encode(v, arrays, f"{path}[{key!r}]")
        return {"$": "dict", "v": out} if "$" in out else out
    raise StateError(f"{path}: values of type {type(value).__name__} cannot be stored")


def _decode(node, arrays: list[np.ndarray]):
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if not isinstance(node, dict):
        return node
    if "$" not in node:
        return {key: _decode(v, arrays) for key, v in node.items()}
    kind = node["$"]
    if kind == "array" and node["i"] in range(len(arrays)):
        return arrays[node["i"]]
    if kind == "tuple":
        return tuple(_decode(v, arrays) for v in node["v"])
    if kind == "dict":
        return {key: _decode(v, arrays) for key, v in node["v"].items()}
    if kind == "float" and node["v"] in ("nan", "inf", "-inf"):
        return float(node["v"])
    raise StateError(f"malformed streamlabels state: unknown tag {kind!r}")
