"""One editing window per label file (``session.EditClaim``): a second claim is refused with the
holder named, and a holder killed with ``kill -9`` leaves nothing that blocks the next session."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from fusionlabel.core.errors import EditingElsewhereError
from fusionlabel.io import session as S


def test_a_second_claim_is_refused_naming_the_file_and_the_holder(tmp_path: Path) -> None:
    label = tmp_path / "labels.json"
    first = S.EditClaim.take(label)
    assert first.held
    with pytest.raises(EditingElsewhereError) as err:
        S.EditClaim.take(label)
    assert str(label) in str(err.value) and f"pid {os.getpid()}" in str(err.value)
    assert S.EditClaim.take(tmp_path / "other.json").held  # another label file is free
    first.release()
    second = S.EditClaim.take(label)  # given back: the next window may edit
    assert second.held
    second.release()


HOLDER = textwrap.dedent("""
    import sys, time
    from fusionlabel.io import session as S
    claim = S.EditClaim.take(sys.argv[1])
    print("held", flush=True)
    time.sleep(600)
""")


@contextlib.contextmanager
def _holder(label: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the claim on ``label`` (killed on the way out)."""
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(label)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        yield p
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(30)


def test_a_holder_killed_with_kill_9_blocks_nothing(tmp_path: Path) -> None:
    label = tmp_path / "labels.json"
    with _holder(label) as p:
        with pytest.raises(EditingElsewhereError, match=f"pid {p.pid}"):
            S.EditClaim.take(label)
        p.kill()  # SIGKILL: no clean-up in the holder
        p.wait(30)
        claim = S.EditClaim.take(label)
        assert claim.held
        claim.release()


def test_where_the_claim_file_cannot_be_made_the_claim_is_empty(tmp_path: Path) -> None:
    (tmp_path / "not_a_folder").write_text("")
    claim = S.EditClaim.take(tmp_path / "not_a_folder" / "labels.json")  # nothing can be saved there anyway
    assert not claim.held
    assert S.EditClaim.take(tmp_path / "not_a_folder" / "labels.json") is not None  # nor refused


def test_a_missing_folder_is_not_created_and_gives_an_empty_claim(tmp_path: Path) -> None:
    label = tmp_path / "not" / "there" / "labels.json"
    claim = S.EditClaim.take(label)
    assert not claim.held and not (tmp_path / "not").exists()


def test_another_users_read_only_claim_file_still_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim file of another user is read-only here (mode 0644): its lock is still seen."""
    label = tmp_path / "labels.json"
    with _holder(label) as p:
        real_open = os.open

        def as_other_user(path: object, flags: int, *a: object) -> int:  # root ignores modes: act them out
            if str(path).endswith(".editing") and flags & (os.O_RDWR | os.O_WRONLY):
                raise PermissionError(13, "Permission denied")
            return real_open(path, flags, *a)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", as_other_user)
        with pytest.raises(EditingElsewhereError, match=f"pid {p.pid}"):
            S.EditClaim.take(label, tries=1)
        assert S.editing_elsewhere(label) is not None


def test_a_probe_in_the_same_instant_does_not_make_the_window_read_only(tmp_path: Path) -> None:
    import fcntl
    import threading

    label = tmp_path / "labels.json"
    S.EditClaim.take(label).release()  # the claim file exists, as after any window
    fd = os.open(S.editing_path(label), os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)  # a writer's check (editing_elsewhere) in progress
    threading.Timer(0.15, lambda: (fcntl.flock(fd, fcntl.LOCK_UN), os.close(fd))).start()
    claim = S.EditClaim.take(label)  # waits the probe out
    assert claim.held
    claim.release()


def test_a_dropped_claim_is_given_back(tmp_path: Path) -> None:
    import gc

    label = tmp_path / "labels.json"
    claim = S.EditClaim.take(label)
    del claim  # an error between taking it and storing it
    gc.collect()
    S.EditClaim.take(label).release()


def test_replace_label_file_checks_under_the_writer_lock(tmp_path: Path) -> None:
    label = tmp_path / "labels.json"
    label.write_text("old")
    claim = S.EditClaim.take(label)  # a window opened after the writer's early check
    try:
        with pytest.raises(EditingElsewhereError):
            S.replace_label_file(label, True, lambda: label.write_text("new"))
    finally:
        claim.release()
    assert label.read_text() == "old"
    S.replace_label_file(label, True, lambda: label.write_text("new"))
    assert label.read_text() == "new"
