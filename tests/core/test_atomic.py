"""Atomic writes keep modes and honour the umask; stale temp files are cleaned; writers lock."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fusionlabel.core.atomic import atomic_write_text, clean_stale_tmp, current_umask, locked


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        p = tmp_path / "labels.json"
        atomic_write_text(p, "a")
        assert _mode(p) == 0o640  # what open(p, "w") gives, not mkstemp's 0600
        os.chmod(p, 0o664)  # a team file
        atomic_write_text(p, "b")
        assert _mode(p) == 0o664 and p.read_text() == "b"
    finally:
        os.umask(old)


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    p = tmp_path / "labels.json"
    p.write_text("{}")
    # a writer killed mid-write: its pid is gone
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".labels.json.{dead_pid}.abc123.tmp"
    stale.write_text("half")
    live = tmp_path / f".labels.json.{os.getpid()}.def456.tmp"  # a write in progress in this process
    live.write_text("half")
    old_style = tmp_path / ".labels.json.xyz.tmp"  # written by an older FusionLabel, long ago
    old_style.write_text("half")
    os.utime(old_style, (time.time() - 3600, time.time() - 3600))
    other = tmp_path / ".other.json.1.x.tmp"
    other.write_text("not ours")
    removed = clean_stale_tmp(p)
    assert sorted(removed) == sorted([stale, old_style])
    assert live.exists() and other.exists() and p.read_text() == "{}"


def test_a_killed_writer_leaves_the_old_file_and_its_temp_is_cleaned(tmp_path: Path) -> None:
    p = tmp_path / "labels.json"
    atomic_write_text(p, "old")
    code = (
        "import os, signal, tempfile, sys\n"
        "from pathlib import Path\n"
        "import fusionlabel.core.atomic as a\n"
        "real = os.replace\n"
        "def die(*_):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "a.os.replace = die\n"
        f"a.atomic_write_text(Path({str(p)!r}), 'new' * 100000)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert r.returncode == -9
    assert p.read_text() == "old"
    leftovers = list(tmp_path.glob(".labels.json.*.tmp"))
    assert len(leftovers) == 1
    assert clean_stale_tmp(p) == leftovers and not list(tmp_path.glob("*.tmp"))


def test_locked_serialises_writers(tmp_path: Path) -> None:
    p = tmp_path / "labels.json"
    order: list[str] = []
    with locked(p):
        # a second process (flock is per open file description)
        code = f"from pathlib import Path\nfrom fusionlabel.core.atomic import locked\nwith locked(Path({str(p)!r})):\n    print('got')\n"
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert proc.poll() is None  # still waiting for the lock (cannot have finished while we hold it)
        order.append("first")
    out, _ = proc.communicate(timeout=60)
    assert out.strip() == "got" and order == ["first"]


def test_a_pipe_or_device_is_refused_never_replaced_and_a_link_is_written_through(tmp_path: Path) -> None:

    from fusionlabel.core.errors import WriteError
    from fusionlabel.core.labels import LabelSet
    from fusionlabel.io.native_labels import write_labels

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for write in (lambda p: atomic_write_text(p, "x"), lambda p: write_labels(LabelSet(), p)):
        for target in (fifo, tmp_path):  # a pipe (reading it first would block), a folder
            with pytest.raises(WriteError, match="not a regular file"):
                write(target)
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    link.symlink_to(real)
    atomic_write_text(link, "through")
    assert link.is_symlink() and real.read_text() == "through"
    (tmp_path / "afile").write_text("")
    with pytest.raises(WriteError, match="afile is a file, not a folder"):
        atomic_write_text(tmp_path / "afile" / "x.json", "x")
