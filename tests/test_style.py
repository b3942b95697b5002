"""ruff's lint rules and formatting (pyproject.toml [tool.ruff]) hold over the repository, as the
pre-commit hook checks them; CI runs this so a commit without the hook cannot slip through."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PATHS = ["fusionlabel", "tests", "benchmarks", "plugins", "scripts"]


def _ruff() -> str:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    return exe


def test_ruff_lint_is_clean() -> None:
    out = subprocess.run([_ruff(), "check", *PATHS], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:]


def test_ruff_format_is_clean() -> None:
    out = subprocess.run([_ruff(), "format", "--check", *PATHS], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:]
