"""Atomic file writes, stale temp files, and a lock for writers of the same file.

:func:`atomic_write_bytes` writes a temp file beside the target, fsyncs it and renames it over
the target: a reader never sees a half-written file and a crash (kill -9, power loss) leaves
either the old or the new content; a write that fails (disk full, permission denied, read-only
folder) removes its temp file, leaves the old content and raises
:class:`~fusionlabel.core.errors.WriteError` naming the file and the cause. The new file gets the **mode of the file it replaces**, or
``0o666`` minus the umask for a new file (what ``open(path, "w")`` would give), never the
``0o600`` of ``mkstemp``.

A writer killed between creating its temp file and the rename leaves
``.<name>.<pid>.<random>.tmp`` behind; :func:`clean_stale_tmp` removes those whose process is
gone (or that are older than a day: another host's pid means nothing here), and the readers of
user files call it when they open one.

:func:`locked` serialises writers of the same file across processes (``fcntl.flock`` on
``.<name>.lock`` beside it; a no-op where ``fcntl`` does not exist). :func:`file_sha256` is the
one hash of a file's bytes (provenance of weights and seeds, changed-on-disk checks).

Example
-------
>>> import os, stat, tempfile
>>> from pathlib import Path
>>> p = Path(tempfile.mkdtemp()) / "labels.json"
>>> atomic_write_text(p, "{}")
>>> os.chmod(p, 0o664); atomic_write_text(p, "[]")
>>> oct(stat.S_IMODE(p.stat().st_mode)), p.read_text()
('0o664', '[]')
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from fusionlabel.core.errors import WriteError

#: temp files older than this are stale whatever their pid says (seconds)
STALE_AFTER_S = 24 * 3600.0

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where ``/proc`` tells it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:  # the portable way sets it and puts it back
        old = os.umask(0o022)
        os.umask(old)
    return old


def _target_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~current_umask()


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


_WHY = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
}


def write_error(path: Path, exc: OSError) -> WriteError:
    """The :class:`WriteError` for an ``OSError`` met while writing ``path``: one line naming the
    file and the cause (``no space left on device``, ``permission denied`` ...) and saying that the
    previous content, if any, is untouched."""
    why = _WHY.get(exc.errno or -1) or (exc.strerror or str(exc) or type(exc).__name__)
    return WriteError(path, f"cannot write: {why}; the previous file (if any) is unchanged", exc.errno)


def writable_target(path: Path) -> Path:
    """The file a write to ``path`` replaces: the file a symbolic link points to (the link stays
    a link), or ``path``. Raises :class:`WriteError` when that exists and is not a regular file
    (a device such as ``/dev/full``, a pipe, a folder): renaming over it would destroy it, and
    reading it first could block or never end."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.exists() and not path.is_file():
        raise WriteError(
            path, "cannot write: not a regular file (a device, pipe or folder); nothing written", errno.EINVAL
        )
    return path


def _check_parents(path: Path) -> None:
    """A file where a folder of ``path`` should be: say so (``mkdir`` would say "File exists")."""
    for parent in Path(path).parents:
        if parent.exists():
            if not parent.is_dir():
                raise WriteError(path, f"cannot write: {parent} is a file, not a folder", errno.ENOTDIR)
            return


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (POSIX ``rename`` semantics), keeping its mode.

    A symbolic link is written through (its target is replaced, the link stays); a device, pipe
    or folder at ``path`` is refused (:func:`writable_target`).

    Raises
    ------
    WriteError
        (an ``OSError`` too) when the folder cannot be written, the disk is full, ...: the temp
        file is removed and ``path`` keeps its previous content.
    """
    path = writable_target(path)
    _check_parents(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = _target_mode(path)
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise write_error(path, exc) from exc
        raise
    try:  # persist the rename itself
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def clean_stale_tmp(path: Path, max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the temp files that interrupted atomic writes of ``path`` left beside it.

    A temp file is stale when the process that made it is gone (its pid is in the name) or it
    is older than ``max_age_s``. Temp files of live writers are left alone. Returns what was
    removed; files that cannot be removed are skipped.
    """
    path = Path(path)
    pat = re.compile(r"^\." + re.escape(path.name) + r"\.(?:(\d+)\.)?[^/]*\.tmp$")
    removed: list[Path] = []
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return removed
    now = time.time()
    for p in entries:
        m = pat.match(p.name)
        if not m:
            continue
        try:
            age = now - p.stat().st_mtime
        except OSError:
            continue
        pid = int(m.group(1)) if m.group(1) else None
        if age > max_age_s or pid is None or not _pid_alive(pid):
            if pid is None and age < 60.0:
                continue  # an old-style name being written right now
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def lock_path(path: Path) -> Path:
    """The lock file :func:`locked` uses for ``path``."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive inter-process lock for writing ``path`` (blocks until it is free).

    The lock file ``.<name>.lock`` stays behind (removing it would race with the next locker);
    it is empty and harmless.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, the on-disk version checks still apply
        yield
        return
    lp = lock_path(path)
    _check_parents(Path(path))
    try:
        lp.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o666 & ~current_umask())
    except OSError as exc:  # a read-only folder: say so about the file the caller wants to write
        raise write_error(Path(path), exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes, read in 1 MiB chunks. Raises ``OSError`` as ``open``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
