"""Verified, resumable downloads of pinned upstream files.

A benchmark is only comparable if every user reads the same bytes, so each file is accepted only
with its registered size and SHA-256. Bytes arrive in a staging folder, never in the cache itself:
an interrupted transfer keeps what it got there and the next attempt asks the server for the rest
(an HTTP ``Range`` request); a complete transfer with the wrong size or checksum is deleted.

Examples
--------
>>> mirrored("https://raw.githubusercontent.com/o/r/abc/data/x.arff", "http://127.0.0.1:8000/")
'http://127.0.0.1:8000/o/r/abc/data/x.arff'
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ChecksumError", "DownloadError", "Part", "download", "mirrored"]

DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 16

Progress = Callable[[str, int, int], None]
"""Called as ``progress(url, bytes_so_far, bytes_expected)`` while a file arrives."""


class ChecksumError(ValueError):
    """A complete download whose size or SHA-256 differs from the registered one."""


class DownloadError(OSError):
    """A download that could not complete: unreachable, an HTTP error, or cut short."""


@dataclass(frozen=True)
class Part:
    """One upstream file: its pinned address, size in bytes and SHA-256."""

    url: str
    bytes: int
    sha256: str


def mirrored(url: str, mirror: str) -> str:
    """``url`` with its scheme and host replaced by ``mirror`` (a server with the same paths)."""
    return mirror.rstrip("/") + urllib.parse.urlsplit(url).path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _receive(url: str, target: Path, part: Part, progress: Progress | None) -> None:
    """Append the missing bytes of ``part`` from ``url`` to ``target``."""
    have = target.stat().st_size if target.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
            if have and response.status != 206:  # the server ignored the range: start over
                have = 0
            announced = response.headers.get("Content-Length")
            expected_end = have + int(announced) if announced is not None else None
            with open(target, "ab" if have else "wb") as out:
                done = have
                if progress:
                    progress(url, done, part.bytes)
                # Stop reading past the registered size: a wrong file is refused, not stored whole.
                while done <= part.bytes and (chunk := response.read(_CHUNK)):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(url, done, part.bytes)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # the server holds fewer bytes than we already have: start over
            target.unlink()
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:
        got = target.stat().st_size if target.exists() else 0
        raise DownloadError(
            f"{url}: transfer failed after {got:,} of {part.bytes:,} bytes ({exc!r}); "
            "run the same command again to resume"
        ) from exc
    if expected_end is not None and done < expected_end and done <= part.bytes:
        raise DownloadError(
            f"{url}: the connection closed after {done:,} of {part.bytes:,} bytes; "
            "run the same command again to resume"
        )


def download(
    part: Part, staging: Path, mirror: str = "", progress: Progress | None = None
) -> Path:
    """The verified bytes of ``part``, in ``staging``, downloading (or resuming) as needed.

    Raises :class:`DownloadError` when the transfer fails (a partial file stays for resuming) and
    :class:`ChecksumError` when the complete file has the wrong size or SHA-256 (it is deleted).
    Both messages name the address.
    """
    url = mirrored(part.url, mirror) if mirror else part.url
    staging.mkdir(parents=True, exist_ok=True)
    target = staging / f"{part.sha256}.part"
    if not target.exists() or target.stat().st_size < part.bytes:
        _receive(url, target, part, progress)
    size = target.stat().st_size
    digest = _sha256(target) if size == part.bytes else None
    if digest != part.sha256:
        target.unlink()
        found = f"SHA-256 {digest}" if digest else f"{size:,} bytes"
        raise ChecksumError(
            f"{url}: expected {part.bytes:,} bytes with SHA-256 {part.sha256}, "
            f"received {found}; the download was deleted"
        )
    return target
