"""The ``streamlabels datasets fetch`` command: download benchmark datasets with a bar per file.

Kept apart from the library (``streams.datasets`` knows nothing of terminals) so that fetching
shows what it does: which upstream file, how many bytes, how fast.
"""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]

EXAMPLES = """examples:
  streamlabels datasets fetch yeast scene          # into STREAMLABELS_CACHE (~/.cache/streamlabels)
  streamlabels datasets fetch --all
  STREAMLABELS_MIRROR=http://127.0.0.1:8000 streamlabels datasets fetch --all
      # the same paths as the pinned addresses, from another server

Every upstream file must have its registered size and SHA-256; only then is the dataset stored.
Run the same command again after an interruption: it resumes where it stopped.
"""


def add_parser(datasets_parser: argparse.ArgumentParser, add_command) -> None:
    """Add ``fetch`` under the ``datasets`` command (``add_command`` as in ``streamlabels.cli``)."""
    commands = datasets_parser.add_subparsers(dest="action", metavar="{fetch}")
    fetch = add_command(commands, "fetch", "download and verify datasets", EXAMPLES, run)
    fetch.add_argument("names", nargs="*", metavar="NAME", help="registered dataset names")
    fetch.add_argument("--all", action="store_true", help="every registered dataset")


def run(args) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    from streamlabels.streams import datasets

    if args.all == bool(args.names):
        raise ValueError("name the datasets to fetch, or give --all (not both)")
    names = datasets.names() if args.all else args.names
    for name in names:
        datasets.info(name)  # unknown names fail before any download
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        tasks: dict[str, int] = {}

        def on_bytes(url: str, done: int, total: int) -> None:
            if url not in tasks:
                tasks[url] = progress.add_task(url.rsplit("/", 1)[-1], total=total)
            progress.update(tasks[url], completed=done)

        for name in names:
            path = datasets.fetch(name, progress=on_bytes)
            print(f"{name}: {path}", flush=True)
    return 0
