"""The headless packages type-check: mypy over core, track, quality, io, pipeline, synth and the
CLI commands reports nothing (core, track and quality with the strict flags).

Uses the ``[tool.mypy]`` configuration of ``pyproject.toml`` (strict per-module flags for core,
track and quality, missing third-party stubs listed by name). mypy also follows the modules these
packages import and reports their errors too. The Qt app (``fusionlabel.app``) and the torch
detectors are left out: their errors would follow PySide6's and torch's stubs from release to
release (on 2026-12-03 ``mypy fusionlabel`` was clean as a whole). mypy's incremental cache goes to
pytest's cache directory, so a second local run takes seconds; a cold run about 30-60 s.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "track", "quality", "io", "pipeline", "synth", "commands")


@pytest.mark.slow
def test_mypy_headless_core_is_clean(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is not installed (pip install -e '.[dev]')")
    cache: pytest.Cache | None = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    cache_dir = cache.mkdir("mypy") if cache is not None else tmp_path / "mypy_cache"
    targets = [REPO / "fusionlabel" / p for p in PACKAGES]
    stdout, stderr, status = api.run(
        ["--config-file", str(REPO / "pyproject.toml"), "--cache-dir", str(cache_dir), *map(str, targets)]
    )
    assert status == 0, f"mypy found errors:\n{stdout}{stderr}"
    # every module of the packages was checked (none silently skipped)
    n_files = sum(len(list(t.rglob("*.py"))) for t in targets)
    m = re.search(r"Success: no issues found in (\d+) source files?", stdout)
    assert m is not None, stdout + stderr
    assert int(m.group(1)) == n_files, f"mypy checked {m.group(1)} files, the packages have {n_files}:\n{stdout}"
