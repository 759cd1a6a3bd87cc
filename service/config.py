"""Settings of the Kafka service, from command-line flags and ``STREAMLABELS_*`` variables.

Every setting has a flag and an environment variable (the flag's name upper-cased, ``-`` as ``_``,
prefixed with ``STREAMLABELS_``); a flag wins over the variable, the variable over the default.
Defaults work on a laptop against a local broker. Secrets (``sasl_plain_password``) are read only
from the environment, so they never appear in a process listing or shell history, and
:meth:`ServiceConfig.redacted` is what gets logged.

Examples
--------
>>> config = ServiceConfig.from_sources(
...     {"labels": "a,b", "n_min": "50"}, environ={"STREAMLABELS_SASL_PLAIN_PASSWORD": "s3cret"}
... )
>>> config.labels, config.n_min, config.input_topic
(['a', 'b'], 50, 'streamlabels-input')
>>> config.redacted()["sasl_plain_password"]
'***'
>>> fast = ServiceConfig.from_sources({"preset": "latency", "batch_size": "50"}, environ={})
>>> fast.fetch_max_wait_ms, fast.linger_ms, fast.batch_size
(10, 1, 50)
"""

from __future__ import annotations

import argparse
import itertools
import os
from dataclasses import asdict, dataclass, field, fields

from streamlabels.cli.models import TARGETS

__all__ = ["ConfigError", "ServiceConfig", "add_arguments", "config_from_args"]

ENV_PREFIX = "STREAMLABELS_"
SECRETS = frozenset({"sasl_plain_password"})


PRESETS = {
    "latency": {"fetch_max_wait_ms": 10, "linger_ms": 1, "batch_size": 100},
    "throughput": {"fetch_max_wait_ms": 100, "linger_ms": 20, "batch_size": 2000},
}
"""What ``--preset`` (``--latency``, ``--throughput``) sets, unless a setting is given itself.
docs/deployment.md gives the latency and rate each reaches. The latency preset lingers 1 ms, not
0, so that a batch's predictions leave as one request, not one record batch per message (at
1,000 messages/s confluent-kafka with 0 grew the test broker's backlog to seconds). Its fetch
wait matters only where a broker holds every fetch that long (Tansu; Kafka answers as soon as
data is there): 10 ms, not 5, halves the fetches, each of which makes Tansu list the whole
partition, and gave p99 41-42 ms where 5 gave 47-64 ms (1,000 messages/s, tmc2007-500)."""


class ConfigError(ValueError):
    """A setting is missing or has an unusable value."""


def _setting(default, help: str, *, cast=str, choices=None, flag: bool = True, secret=False):
    meta = {"help": help, "cast": cast, "choices": choices, "flag": flag, "secret": secret}
    return field(default=default, metadata=meta)


def _optional_int(text: str) -> int | None:
    return None if text.strip().lower() in ("", "none", "off") else int(text)


@dataclass
class ServiceConfig:
    """Everything ``streamlabels serve`` needs; see the module docstring for where values come from.

    ``model_version`` in every prediction is the number of instances the model had learned when it
    made that prediction.
    """

    bootstrap_servers: str = _setting("127.0.0.1:9092", "Kafka bootstrap servers, comma separated")
    input_topic: str = _setting("streamlabels-input", "topic of the instances to classify")
    output_topic: str = _setting("streamlabels-predictions", "topic the predictions go to")
    dead_letter_topic: str = _setting(
        "streamlabels-dead-letters", "topic for invalid messages (original bytes, reason headers)"
    )
    group_id: str = _setting("streamlabels", "consumer group")
    labels: list[str] | None = _setting(  # noqa: RUF009 - _setting returns a field()
        None, "label vocabulary, comma separated", cast=lambda s: [v.strip() for v in s.split(",")]
    )
    labels_from: str | None = _setting(
        None,
        "take the label vocabulary from an ARFF header: FILE (MEKA '-C n' or MULAN FILE's .xml "
        "beside it), FILE:-n (the last n attributes), FILE:n (the first n), or a dataset name",
    )
    format: str = _setting("json", "message encoding", choices=("json", "msgpack"))
    scaling: str = _setting(
        "auto",
        "IHOMER feature scaling: 'auto' picks 'sparse' for rows that leave most features out and "
        "'standard' otherwise, from the rows of --labels-from FILE, else from the first polled "
        "batch (a restored checkpoint keeps its model's); 'standard' centres and scales (absent "
        "features count as 0.0, so every row is dense); 'sparse' scales without centring "
        "(work per row in its features only); 'none' leaves values as they come",
        choices=("auto", "standard", "sparse", "none"),
    )
    target: str = _setting(
        "micro_f1", "IHOMER: the metric its decisions are for", choices=TARGETS
    )
    n_min: int = _setting(200, "IHOMER: instances between label-tree test points", cast=int)
    lr: float = _setting(0.007, "IHOMER: learning rate of the linear learners", cast=float)
    seed: int = _setting(42, "IHOMER: random seed", cast=int)
    checkpoint_dir: str | None = _setting(
        None, "folder for model checkpoints (none: no checkpoints)"
    )
    checkpoint_every: int | None = _setting(
        10_000,
        "checkpoint after this many learned instances ('off' to disable)",
        cast=_optional_int,
    )
    checkpoint_seconds: float | None = _setting(
        300.0,
        "checkpoint after this many seconds with new learning ('off' to disable)",
        cast=lambda s: None if s.strip().lower() in ("", "none", "off") else float(s),
    )
    checkpoint_keep: int = _setting(
        3, "checkpoints kept on disk (older ones are deleted)", cast=int
    )
    batch_size: int = _setting(500, "most records per poll (max_poll_records)", cast=int)
    preset: str | None = _setting(
        None,
        "defaults for the Kafka timing settings below: 'latency' (small batches, no waiting: "
        "tens of ms from input to prediction) or 'throughput' (large batches, batched sends); "
        "settings given explicitly win; --latency and --throughput are short for it",
        choices=("latency", "throughput"),
    )
    client: str = _setting(
        "kafka-python",
        "Kafka client library: 'kafka-python' (pure Python) or 'confluent-kafka' (librdkafka, "
        "several times less CPU per message)",
        choices=("kafka-python", "confluent-kafka"),
    )
    fetch_max_wait_ms: int = _setting(
        100,
        "longest a fetch waits for data on the broker; some brokers hold every fetch this long, "
        "so it bounds latency at low rates",
        cast=int,
    )
    linger_ms: int = _setting(
        5,
        "how long the producer waits to fill a batch of sends (latency vs. fewer requests)",
        cast=int,
    )
    producer_batch_bytes: int = _setting(
        262_144, "largest batch of records the producer sends to one partition at once", cast=int
    )
    compression: str = _setting(
        "none",
        "compression of the records the service produces",
        choices=("none", "gzip", "snappy", "lz4", "zstd"),
    )
    role: str = _setting(
        "single",
        "single: one process predicts, learns and checkpoints; trainer: the one writer of the "
        "model, learns the labelled instances, checkpoints and publishes snapshots to "
        "--snapshot-topic; scorer: one of any number of replicas in --group-id that predict "
        "with the newest complete snapshot and never learn",
        choices=("single", "trainer", "scorer"),
    )
    scoring: str = _setting(
        "batch",
        "role single: 'batch' scores a polled batch's unlabelled messages at once with the model "
        "as it stood before the batch, and its labelled ones test-then-train in offset order in "
        "one compiled pass (within a batch, unlabelled messages do not benefit from earlier "
        "labels); 'strict' predicts then learns one message at a time (exact test-then-train)",
        choices=("batch", "strict"),
    )
    snapshot_topic: str = _setting(
        "streamlabels-snapshots", "compacted topic of model snapshots (roles trainer and scorer)"
    )
    model_name: str = _setting(
        "streamlabels", "the model's name in snapshot keys (<model>/<version>/<i>, <model>/latest)"
    )
    snapshot_every: int | None = _setting(
        1_000,
        "trainer: publish a snapshot after this many learned instances ('off' to disable)",
        cast=_optional_int,
    )
    snapshot_seconds: float | None = _setting(
        10.0,
        "trainer: publish a snapshot after this many seconds with new learning ('off' to disable)",
        cast=lambda s: None if s.strip().lower() in ("", "none", "off") else float(s),
    )
    snapshot_chunk_bytes: int = _setting(
        500_000, "largest snapshot chunk message, below the brokers' message size limit", cast=int
    )
    max_message_bytes: int = _setting(
        1_048_576,
        "larger messages go to the dead-letter topic (whole, up to the producer's record limit: "
        "the larger of this and --snapshot-chunk-bytes, plus 64 KiB)",
        cast=int,
    )
    max_features: int = _setting(100_000, "messages with more features are refused", cast=int)
    max_labels: int | None = _setting(
        None, "messages with more labels are refused (default: vocabulary size)", cast=_optional_int
    )
    metrics_host: str = _setting("127.0.0.1", "address of the /metrics and /healthz server")
    metrics_port: int | None = _setting(
        9108,
        "port of /metrics and /healthz (0: any free port, 'off': no server)",
        cast=_optional_int,
    )
    session_timeout_ms: int = _setting(10_000, "consumer group session timeout", cast=int)
    heartbeat_interval_ms: int = _setting(3_000, "consumer group heartbeat interval", cast=int)
    security_protocol: str = _setting(
        "PLAINTEXT",
        "kafka-python security_protocol",
        choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
    )
    sasl_mechanism: str | None = _setting(None, "kafka-python sasl_mechanism (e.g. PLAIN)")
    sasl_plain_username: str | None = _setting(None, "kafka-python sasl_plain_username")
    sasl_plain_password: str | None = _setting(
        None, "SASL password (environment only)", flag=False, secret=True
    )
    ssl_cafile: str | None = _setting(None, "kafka-python ssl_cafile")
    ssl_certfile: str | None = _setting(None, "kafka-python ssl_certfile")
    ssl_keyfile: str | None = _setting(None, "kafka-python ssl_keyfile")
    log_level: str = _setting("INFO", "log level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))

    @classmethod
    def from_sources(cls, flags: dict, environ: dict | None = None) -> ServiceConfig:
        """Build from flag values (strings or already typed; None means unset) and variables."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            meta = f.metadata
            raw = flags.get(f.name) if meta["flag"] else None
            if raw is None:
                raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            try:
                value = meta["cast"](raw) if isinstance(raw, str) else raw
            except ValueError:
                raise ConfigError(f"{f.name}: cannot read {raw!r} as {f.type}") from None
            if meta["choices"] and value not in meta["choices"]:
                raise ConfigError(f"{f.name} must be one of {meta['choices']}, got {value!r}")
            values[f.name] = value
        for name, value in PRESETS.get(values.get("preset"), {}).items():
            values.setdefault(name, value)
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        """Refuse settings the service cannot run with, saying what to change."""
        if self.labels is not None and self.labels_from is not None:
            raise ConfigError(
                "give the labels either with --labels or with --labels-from, not both"
            )
        if "/" in self.model_name or not self.model_name:
            raise ConfigError(f"model_name must be non-empty, without '/', got {self.model_name!r}")
        for name in (
            "batch_size",
            "max_message_bytes",
            "max_features",
            "checkpoint_keep",
            "n_min",
            "snapshot_chunk_bytes",
            "producer_batch_bytes",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("fetch_max_wait_ms", "linger_ms"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.labels is not None and (not self.labels or "" in self.labels):
            raise ConfigError(f"labels must be non-empty names, got {self.labels}")

    @property
    def producer_max_bytes(self) -> int:
        """The largest record the service's producers send (kafka-python's ``max_request_size``,
        librdkafka's ``message.max.bytes``): a snapshot chunk or a dead letter of a refused
        message, with 64 KiB to spare for key, headers and framing."""
        return max(self.max_message_bytes, self.snapshot_chunk_bytes) + 65_536

    def _labels_file(self):
        """The stream of the ``labels_from`` file (header read, rows not yet)."""
        from streamlabels.streams import datasets

        source, spec = self.labels_from, None
        head, _, tail = source.rpartition(":")
        if head and tail.lstrip("-").isdigit():
            source, spec = head, int(tail)
        return datasets.load(source, labels=spec)

    def label_vocabulary(self) -> list[str]:
        """The labels, from ``labels`` or from the header of ``labels_from``."""
        if self.labels is not None:
            return list(self.labels)
        if self.labels_from is not None:
            return list(self._labels_file().label_names)
        raise ConfigError(
            "no label vocabulary: pass --labels a,b,c or --labels-from FILE.arff "
            f"(or set {ENV_PREFIX}LABELS)"
        )

    def sample_rows(self, n: int) -> list[dict]:
        """The first ``n`` feature dicts of the ``labels_from`` file (none without one): rows
        like the ones the service will see, for ``scaling="auto"`` to judge before any poll."""
        if self.labels_from is None:
            return []
        return [x for x, _ in itertools.islice(self._labels_file(), n)]

    def kafka_security(self) -> dict:
        """The security options to hand to kafka-python's clients (unset ones left out)."""
        names = (
            "security_protocol",
            "sasl_mechanism",
            "sasl_plain_username",
            "sasl_plain_password",
            "ssl_cafile",
            "ssl_certfile",
            "ssl_keyfile",
        )
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def redacted(self) -> dict:
        """The settings as a dict safe to log: secrets replaced by ``***``."""
        out = asdict(self)
        for name in SECRETS:
            if out[name] is not None:
                out[name] = "***"
        return out

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.redacted().items())
        return f"ServiceConfig({shown})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per setting (secrets excepted) to ``parser``; unset flags stay None."""
    for f in fields(ServiceConfig):
        meta = f.metadata
        if not meta["flag"]:
            continue
        env = ENV_PREFIX + f.name.upper()
        default = "" if f.default is None else f" (default: {f.default})"
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=None,
            choices=meta["choices"],
            help=f"{meta['help']}{default}; env {env}",
        )
    for preset in PRESETS:
        parser.add_argument(
            f"--{preset}",
            dest="preset",
            action="store_const",
            const=preset,
            help=f"short for --preset {preset}",
        )
    secrets = ", ".join(ENV_PREFIX + name.upper() for name in sorted(SECRETS))
    parser.epilog = (
        parser.epilog or ""
    ) + f"\nsecrets are read from the environment only: {secrets}"


def config_from_args(args: argparse.Namespace, environ: dict | None = None) -> ServiceConfig:
    """The settings from parsed flags and the environment."""
    names = {f.name for f in fields(ServiceConfig)}
    return ServiceConfig.from_sources({k: v for k, v in vars(args).items() if k in names}, environ)
