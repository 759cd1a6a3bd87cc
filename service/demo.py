"""``streamlabels demo-kafka``: the whole service on one machine, in one command.

It starts the test broker (:mod:`.broker`), replays a stream into an input topic, runs the
service on it with checkpoints in a temporary folder, shows its live metrics, and stops everything
cleanly once every message has been handled.

The stream is the one ``streamlabels replay`` reads for the same name (the synthetic drifting
stream for none), so the two can be compared. The demo says which scoring mode the service ran
and how that bears on its micro-F1: its messages are all labelled, and both modes predict each
labelled message after learning every one before it, as ``replay`` does: the same figures.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time

__all__ = ["run_demo"]


def scoring_note(scoring: str, batch_size: int, replay: str) -> str:
    """What the scoring mode means for the micro-F1 shown, beside ``replay``'s (the command)."""
    if scoring == "strict":
        return (
            "scoring: strict: each message is predicted, then learned, in order, as "
            f"`{replay}` does: the same micro-F1"
        )
    return (
        f"scoring: batch (the service's default): up to {batch_size} messages polled at once; "
        "the labelled ones are predicted, then learned, in order, as "
        f"`{replay}` does: the same micro-F1 (unlabelled ones would be scored at once by the "
        "model before the batch)"
    )


class _Rate:
    """The steady rate: messages handled since the first batch, over the time since then, so the
    start-up (imports, compilation) and the consumer group join are reported apart."""

    def __init__(self, start: float):
        self.start = start
        self.first: tuple[float, float] | None = None  # (time, messages handled) at the first batch

    def update(self, handled: float, now: float) -> None:
        if self.first is None and handled > 0:
            self.first = (now, handled)

    def startup_seconds(self) -> float | None:
        return None if self.first is None else self.first[0] - self.start

    def per_second(self, handled: float, now: float) -> float:
        if self.first is None or now <= self.first[0]:
            return 0.0
        return (handled - self.first[1]) / (now - self.first[0])


def _table(metrics, produced: int, total: int, rate: _Rate, now: float):
    from rich.table import Table

    def value(name: str, **labels) -> float:
        return metrics.registry.get_sample_value(name, labels) or 0.0

    dead = sum(
        sample.value
        for family in metrics.registry.collect()
        if family.name == "streamlabels_dead_letters"
        for sample in family.samples
        if sample.name.endswith("_total")
    )
    handled = value("streamlabels_messages_in_total")
    rate.update(handled, now)
    startup = rate.startup_seconds()
    table = Table(title="streamlabels service on the local test broker")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("produced", f"{produced:,} / {total:,}"),
        ("messages in", f"{handled:,.0f}"),
        ("predictions out", f"{value('streamlabels_predictions_out_total'):,.0f}"),
        ("learned", f"{value('streamlabels_learned_total'):,.0f}"),
        ("dead letters", f"{dead:,.0f}"),
        ("lag", f"{max(produced - handled, 0):,.0f}"),
        ("micro-F1", f"{value('streamlabels_micro_f1'):.4f}"),
        ("subset accuracy", f"{value('streamlabels_subset_accuracy'):.4f}"),
        ("model version", f"{value('streamlabels_model_version'):,.0f}"),
        ("label groups", f"{value('streamlabels_model_size', part='groups'):,.0f}"),
        ("checkpoints", f"{value('streamlabels_checkpoints_total'):,.0f}"),
        ("start-up and group join", "…" if startup is None else f"{startup:.1f} s"),
        ("steady messages/s", f"{rate.per_second(handled, now):,.0f}"),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def run_demo(
    stream_name: str | None = None,
    n: int = 3000,
    rate: float | None = None,
    scoring: str = "batch",
) -> dict:
    """Run the demo; returns the final counts (messages in, predictions out, micro-F1, ...)."""
    from rich.console import Console
    from rich.live import Live

    from streamlabels.cli.main import open_stream

    from .broker import Broker
    from .codec import Codec
    from .config import ServiceConfig
    from .consumer import Service
    from .topics import create_topics, instance_messages, produce

    logging.getLogger().setLevel(logging.WARNING)
    stream = open_stream(stream_name)
    labels = list(stream.label_names)
    instances = [pair for _, pair in zip(range(n), stream)]
    command = " ".join(["streamlabels replay", *([stream_name] if stream_name else [])])
    command += f" --n {len(instances)}"
    console = Console()
    with Broker() as broker, tempfile.TemporaryDirectory(prefix="streamlabels-demo-") as folder:
        servers = broker.bootstrap_servers
        console.print(f"test broker on {servers}; replaying {len(instances):,} instances")
        create_topics(servers, ["demo-input", "demo-predictions", "demo-dead-letters"])
        config = ServiceConfig.from_sources(
            {
                "bootstrap_servers": servers,
                "input_topic": "demo-input",
                "output_topic": "demo-predictions",
                "dead_letter_topic": "demo-dead-letters",
                "group_id": "demo",
                "labels": labels,
                "scaling": "sparse" if getattr(stream, "sparse", False) else "standard",
                "scoring": scoring,
                "checkpoint_dir": folder,
                "checkpoint_every": 1000,
                "metrics_port": 0,
                "session_timeout_ms": 6000,
                "heartbeat_interval_ms": 1000,
            },
            environ={},
        )
        service = Service(config)
        serving = threading.Thread(target=service.run, name="service", daemon=True)
        produced = [0]
        codec = Codec(labels)

        def replay() -> None:
            messages = instance_messages(instances, codec)
            produced[0] = produce(
                servers, "demo-input", messages, rate, on_sent=lambda k: produced.__setitem__(0, k)
            )

        feeding = threading.Thread(target=replay, name="replay", daemon=True)
        serving.start()
        feeding.start()
        steady = _Rate(time.perf_counter())
        metrics = service.metrics
        handled = 0.0
        with Live(
            _table(metrics, 0, len(instances), steady, steady.start),
            console=console,
            refresh_per_second=4,
        ) as live:
            while serving.is_alive() and handled < len(instances):
                time.sleep(0.05)  # fine enough to see the first batch and the last
                handled = metrics.registry.get_sample_value("streamlabels_messages_in_total")
                now = time.perf_counter()
                steady.update(handled, now)
                live.update(_table(metrics, produced[0], len(instances), steady, now))
            done = time.perf_counter()
            service.stop()
            serving.join()
            feeding.join()
            live.update(_table(metrics, produced[0], len(instances), steady, done))
        if service.telemetry is not None:
            console.print(
                f"\n(metrics were served at http://127.0.0.1:{service.telemetry.port}/metrics)"
            )
    console.print("broker stopped, service closed, checkpoints removed")
    note = scoring_note(scoring, config.batch_size, command)
    console.print(note, markup=False, highlight=False, soft_wrap=True)
    value = metrics.registry.get_sample_value
    return {
        "messages_in": value("streamlabels_messages_in_total"),
        "predictions_out": value("streamlabels_predictions_out_total"),
        "micro_f1": value("streamlabels_micro_f1"),
        "scoring": scoring,
        "model_version": value("streamlabels_model_version"),
        "startup_seconds": steady.startup_seconds(),
        "steady_messages_per_s": steady.per_second(value("streamlabels_messages_in_total"), done),
    }
