"""``fusionlabel open --prelabel DET --screenshot F``: the exit status says whether the
pre-labelling worked (it used to exit 0 after a failed one); the screenshot is saved either way,
and the scripted close leaves no crash notice behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fusionlabel.io import session as S


def _open(*args: str, cwd: Path, display: bool = True) -> subprocess.CompletedProcess[str]:
    if display:
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    else:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run(
        [sys.executable, "-m", "fusionlabel", "open", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


def test_a_failed_prelabel_makes_the_screenshot_run_exit_1(needs_display, sample_copy: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    r = _open(str(sample_copy), "--prelabel", "no-such-detector", "--screenshot", str(shot), cwd=tmp_path)
    assert r.returncode == 1, r.stderr[-2000:]
    assert shot.is_file() and "no-such-detector" in r.stderr
    assert S.read_autosave(sample_copy / "labels.json") is None  # nothing was edited: nothing kept


@pytest.mark.slow
def test_a_prelabel_that_works_exits_0_and_its_unsaved_work_is_no_crash(
    needs_display, sample_copy: Path, tmp_path: Path
) -> None:
    shot = tmp_path / "shot.png"
    r = _open(str(sample_copy), "--prelabel", "geometric", "--screenshot", str(shot), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    info = S.read_autosave(sample_copy / "labels.json")  # the unsaved pre-labels are kept...
    assert info is not None and not info.crashed  # ...and the next open does not call it a crash


def test_without_a_display_open_says_who_edits_the_labels(sample_copy: Path, tmp_path: Path) -> None:
    label_file = sample_copy / "labels.json"
    claim = S.EditClaim.take(label_file)  # a window edits them
    try:
        r = _open(str(sample_copy), cwd=tmp_path, display=False)
    finally:
        claim.release()
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"open for editing in another window (pid {os.getpid()}" in r.stdout + r.stderr


def test_without_a_display_a_screenshot_run_fails_and_says_why(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    r = _open("--screenshot", str(shot), cwd=tmp_path, display=False)
    assert r.returncode == 1 and not shot.exists()
    assert f"{shot}: not written: a screenshot needs a display" in r.stderr and "Traceback" not in r.stderr
