"""The documentation site (mkdocs.yml: the guides and the API reference generated from the
docstrings by mkdocstrings) builds with ``--strict``: a docstring mkdocstrings cannot render or a
reference it cannot resolve fails the build. The docstrings' examples run as doctests
(``--doctest-modules`` in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (the dev extra: pip install -e '.[dev]')")
    pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings[python] is not installed (the dev extra)")
    exe = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    assert exe is not None
    out = subprocess.run(
        [exe, "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    page = (tmp_path / "site" / "api" / "fusionlabel" / "index.html").read_text(encoding="utf-8")
    assert "open_recording" in page and "load_labels" in page
    assert "to_dataframe" in (tmp_path / "site" / "api" / "core" / "index.html").read_text(encoding="utf-8")
