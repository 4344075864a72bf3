"""Directories published whole: a reader sees the previous one or the next one, never half of one.

Used where one process writes a set of files that other processes read while it writes (control
snapshots, published marts). The files are written into a hidden staging directory beside the
destination, fsync'd, renamed to their final name, and only then does the ``CURRENT`` file,
replaced atomically, name the new directory. Published directories are never modified after
that, so a reader that resolved ``CURRENT`` once can keep reading what it resolved, whatever is
published next. A crash at any point leaves ``CURRENT`` naming a complete directory (or absent).

One publisher per destination at a time: two concurrent publishers would each still publish
complete directories, but ``CURRENT`` would name whichever replaced it last.

Layout::

    <dest>/CURRENT                    "<name>\\n"
    <dest>/<name>/...                 one complete, immutable directory per publication
    <dest>/.<name>.tmp-<random>/      staging, while being written (removed on failure)
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CURRENT = "CURRENT"


@contextmanager
def staged_directory(dest_dir: Path, name: str) -> Iterator[Path]:
    """Yields an empty staging directory; publishes it as ``dest_dir/name`` if the block succeeds.

    If the block raises, the staging directory is removed and ``CURRENT`` is left as it was.
    """
    _check_name(name)
    dest_dir.mkdir(parents=True, exist_ok=True)
    # Random, not just the pid: threads of one process must not share a staging directory.
    staging = dest_dir / f".{name}.tmp-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        yield staging
        publish_directory(staging, dest_dir, name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def publish_directory(staging: Path, dest_dir: Path, name: str) -> Path:
    """Makes the complete ``staging`` directory durable, renames it to ``dest_dir/name`` and
    points ``CURRENT`` at it. ``staging`` must be on the same file system as ``dest_dir``."""
    _check_name(name)
    final = dest_dir / name
    # rename() would silently replace an *empty* directory and fail obscurely on a full one;
    # either way a published directory must never change, so refuse plainly.
    if final.exists():
        raise FileExistsError(f"{final} is already published; publications are immutable")
    fsync_tree(staging)
    staging.rename(final)
    fsync_directory(dest_dir)
    point_current(dest_dir, name)
    return final


def current_directory(dest_dir: Path) -> Path | None:
    """The directory ``CURRENT`` names, or None if nothing was published yet."""
    try:
        name = (dest_dir / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    _check_name(name)
    return dest_dir / name


def point_current(dest_dir: Path, name: str) -> None:
    """Atomically replaces ``CURRENT`` so that it names ``name``."""
    temporary = dest_dir / f".{CURRENT}.tmp-{uuid.uuid4().hex}"
    try:
        with temporary.open("w") as handle:
            handle.write(name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, dest_dir / CURRENT)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(dest_dir)


def prune_directories(dest_dir: Path, prefix: str, keep: int) -> list[Path]:
    """Removes published directories named ``prefix*`` beyond the newest ``keep`` (by name, so
    names must sort chronologically). The one ``CURRENT`` names is always kept and counts
    towards ``keep``. Returns the directories removed."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (the current directory), not {keep}")
    current = current_directory(dest_dir)
    published = sorted(
        (p for p in dest_dir.iterdir() if p.name.startswith(prefix) and p.is_dir()),
        key=lambda p: p.name,
        reverse=True,
    )
    kept = [current] if current in published else []
    removed = []
    for directory in published:
        if directory in kept:
            continue
        if len(kept) < keep:
            kept.append(directory)
            continue
        # Renamed out of the published namespace first, so a removal that fails half-way
        # never leaves a partial directory under a published name.
        trash = dest_dir / f".{directory.name}.trash-{uuid.uuid4().hex}"
        directory.rename(trash)
        removed.append(directory)
    for trash in dest_dir.glob(f".{prefix}*.trash-*"):  # this run's, and any a crash left
        shutil.rmtree(trash)
    return removed


def fsync_tree(directory: Path) -> None:
    for path in directory.iterdir():
        if path.is_dir():
            fsync_tree(path)
        else:
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    fsync_directory(directory)


def fsync_directory(directory: Path) -> None:
    """Makes a directory's entries (creations, renames) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_name(name: str) -> None:
    # CURRENT is read back from disk: it must name a sibling, never walk out of the directory.
    if not name or name.startswith(".") or name == CURRENT or "/" in name or "\\" in name:
        raise ValueError(f"{name!r} is not a valid published directory name")
