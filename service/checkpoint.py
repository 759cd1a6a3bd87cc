"""Model checkpoints on disk: atomic, versioned, hash-checked, never pickle.

A checkpoint is one file holding the model's state *and* the input offsets it has learned up to
(``{topic, partition: next offset}``), so a restart resumes exactly where the model's knowledge
ends: messages after those offsets are predicted again (at-least-once) and learned once. The bytes
come from :func:`streamlabels.state.seal`, which adds the kind, the version and a hash; a file that
fails the check is refused with a log message, and the previous checkpoint is used instead.

Files are written by :func:`streamlabels.files.write_atomic`, so a crash leaves either the old set
of checkpoints or the new one, never a torn file under a real name. The newest ``keep`` are kept.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from streamlabels import IHOMER
from streamlabels.files import remove_stale, write_atomic
from streamlabels.state import StateError, seal, unseal

__all__ = ["KIND", "VERSION", "Checkpoint", "CheckpointStore"]

log = logging.getLogger(__name__)

KIND = "streamlabels.service.checkpoint"
VERSION = 2  # 1 had the same body, its kind and version under the keys format and format_version
_READS = (1, 2)
_NAME = re.compile(r"^checkpoint-(\d{12})\.state$")


@dataclass
class Checkpoint:
    """A restored checkpoint: the model, the offsets it learned up to, and its metadata."""

    model: IHOMER
    offsets: dict[tuple[str, int], int]
    metadata: dict
    path: Path


class CheckpointStore:
    """The checkpoints of one service in one folder.

    Parameters
    ----------
    directory
        Where the files live (created if missing).
    keep
        How many of the newest checkpoints to keep.
    """

    def __init__(self, directory: str | os.PathLike, keep: int = 3):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory = Path(directory)
        self.keep = keep
        self.directory.mkdir(parents=True, exist_ok=True)
        remove_stale(self.directory, "checkpoint-*.state")  # left by a crash inside a save

    def paths(self) -> list[Path]:
        """The checkpoint files, oldest first."""
        found = [
            (int(m.group(1)), p) for p in self.directory.iterdir() if (m := _NAME.match(p.name))
        ]
        return [p for _, p in sorted(found)]

    def save(self, model: IHOMER, offsets: dict[tuple[str, int], int], metadata: dict) -> Path:
        """Write a new checkpoint atomically, then delete the ones beyond ``keep``."""
        existing = self.paths()
        number = int(_NAME.match(existing[-1].name).group(1)) + 1 if existing else 1
        body = {
            "created": time.time(),
            "offsets": [
                {"topic": topic, "partition": partition, "offset": offset}
                for (topic, partition), offset in sorted(offsets.items())
            ],
            "metadata": metadata,
            "model": model.get_state(),
        }
        path = self.directory / f"checkpoint-{number:012d}.state"
        write_atomic(path, seal(KIND, VERSION, body))
        for old in self.paths()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def load_latest(self) -> Checkpoint | None:
        """The newest checkpoint that passes every check, or None when there is none.

        Refused files are logged (with the reason) and skipped, newest to oldest.
        """
        for path in reversed(self.paths()):
            try:
                return self.load(path)
            except (StateError, OSError) as error:
                log.error(
                    "checkpoint refused, trying the previous one",
                    extra={"checkpoint": str(path), "reason": f"{type(error).__name__}: {error}"},
                )
        return None

    @staticmethod
    def load(path: Path) -> Checkpoint:
        """Read and check one checkpoint file.

        Raises
        ------
        StateError
            The bytes are damaged, are not a service checkpoint of a version this service reads,
            or hold offsets, metadata or a model state that do not fit together.
        OSError
            The file cannot be read.
        """
        _, body = unseal(Path(path).read_bytes(), KIND, _READS)
        try:
            offsets = {
                (o["topic"], int(o["partition"])): int(o["offset"]) for o in body["offsets"]
            }
            metadata = dict(body["metadata"])
            model_state = body["model"]
        except (KeyError, TypeError, ValueError, OverflowError) as error:
            raise StateError(f"malformed checkpoint: {type(error).__name__}: {error}") from None
        try:
            model = IHOMER.from_state(model_state)
        except StateError:
            raise
        except Exception as error:  # noqa: BLE001 - hash-valid but inconsistent: refuse it whole
            raise StateError(f"inconsistent model state: {type(error).__name__}: {error}") from error
        return Checkpoint(model, offsets, metadata, Path(path))
