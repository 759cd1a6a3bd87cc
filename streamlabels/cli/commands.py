"""How subcommands join the ``streamlabels`` command: one helper for every subcommand, and a
registry that other installed packages fill through entry points.

The service lives outside the library (it needs Kafka) and the library must never import it, so
the service declares its subcommands under the entry-point group ``streamlabels.commands`` in its
package metadata; the command line finds them there at start-up.
"""

from __future__ import annotations

import argparse
from importlib.metadata import entry_points

__all__ = ["ENTRY_POINT_GROUP", "add_command", "add_registered_commands", "check_positive"]

ENTRY_POINT_GROUP = "streamlabels.commands"


def add_command(commands, name: str, help: str, epilog: str, run, **kwargs):
    """A subcommand with its examples under ``--help``, ``--debug``, and ``run`` to call."""
    parser = commands.add_parser(
        name,
        help=help,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.set_defaults(run=run)
    return parser


def check_positive(**options: int | None) -> None:
    """Refuse a count option (``--n``, ``--window``) below 1, naming it, before any work: a
    negative count would otherwise run on nothing, or fail deep inside the run.

    >>> check_positive(n=10, window=None)
    >>> check_positive(n=-5)
    Traceback (most recent call last):
    ...
    ValueError: --n must be a positive whole number, got -5
    """
    for name, value in options.items():
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be a positive whole number, got {value}")


def add_registered_commands(commands) -> None:
    """Let every installed ``streamlabels.commands`` entry point add its subcommands.

    Each entry point names a function taking the subparsers object, e.g. the service's
    ``serve`` and ``demo-kafka``.
    """
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        entry.load()(commands)
