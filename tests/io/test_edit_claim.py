"""One editing window per label file (``session.EditClaim``): a second claim is refused with the
holder named, and a holder killed with ``kill -9`` leaves nothing that blocks the next session."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
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


def test_a_holder_killed_with_kill_9_blocks_nothing(tmp_path: Path) -> None:
    label = tmp_path / "labels.json"
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(label)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        with pytest.raises(EditingElsewhereError, match=f"pid {p.pid}"):
            S.EditClaim.take(label)
        p.kill()  # SIGKILL: no clean-up in the holder
        p.wait(30)
        claim = S.EditClaim.take(label)
        assert claim.held
        claim.release()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(30)


def test_where_the_claim_file_cannot_be_made_the_claim_is_empty(tmp_path: Path) -> None:
    (tmp_path / "not_a_folder").write_text("")
    claim = S.EditClaim.take(tmp_path / "not_a_folder" / "labels.json")  # nothing can be saved there anyway
    assert not claim.held
    assert S.EditClaim.take(tmp_path / "not_a_folder" / "labels.json") is not None  # nor refused
