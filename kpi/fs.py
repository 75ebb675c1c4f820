"""Writing files people rely on: never half-written, never outside where they belong.

Every output (report, package, score file) is written to a temporary sibling and renamed into place
when complete, so a killed or interrupted command leaves either the previous file or the new one, and
no temporary file behind. Names built from data (unit codes) are made safe for a path first.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


def safe_name(text: str) -> str:
    """A unit code (or any data) as one path component: letters, digits, '.', '-', '_' only, no '..'."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", str(text)).replace("..", "_").strip(".")
    return name or "_"


def _sweep(target: Path) -> None:
    """Temporary siblings left by a writer that was killed (SIGKILL cannot be cleaned up after)."""
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _usual_mode(path: Path, directory: bool) -> None:
    """The mode a plain open() or mkdir() would have given (temporary files are private, 0600)."""
    if path.exists():
        os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextmanager
def atomic_path(target: Path, mode: int | None = None):
    """Yields a temporary path beside `target`; on success it replaces `target`, on any failure
    (including Ctrl-C) it is removed. mode: the file's mode (else the one a plain open() gives)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if mode is None:
            _usual_mode(Path(tmp), directory=os.path.isdir(tmp))
        elif os.path.exists(tmp):
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_dir(target: Path):
    """Yields a temporary folder beside `target`; on success it takes `target`'s place whole (the old
    folder's files are gone, not mixed with the new ones), on failure it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old = None
    try:
        yield tmp
        _usual_mode(tmp, directory=True)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, old):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
