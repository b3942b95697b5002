"""The layering rule: core, io, synth, track, quality, pipeline and the CLI's start-up import no
Qt, vispy or torch. Checked in a fresh interpreter so other tests' imports don't mask a leak."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import fusionlabel

FORBIDDEN = ("PySide6", "vispy", "torch", "open3d")
HEADLESS_PACKAGES = ("core", "io", "track", "quality", "pipeline", "detect", "synth", "commands")
#: the learned detector's implementation modules are torch code by nature; its package
#: (``fusionlabel.detect.pillars``, whose ``create`` the registry calls) must still not import torch
TORCH_MODULES_PREFIX = "fusionlabel.detect.pillars."


def _modules() -> list[str]:
    mods = []
    for info in pkgutil.walk_packages(fusionlabel.__path__, "fusionlabel."):
        top = info.name.split(".")[1]
        if info.name.startswith(TORCH_MODULES_PREFIX):
            continue
        if top in HEADLESS_PACKAGES or info.name == "fusionlabel.cli":
            mods.append(info.name)
    return mods


def test_headless_layers_import_no_gui_or_torch() -> None:
    mods = _modules()
    assert "fusionlabel.core.boxes" in mods and "fusionlabel.io.native" in mods
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        f"bad = [f for f in {FORBIDDEN!r} if f in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy/GUI modules imported at import time by headless layers: {out.stdout}"


def test_cli_help_is_light() -> None:
    code = "import sys\nfrom fusionlabel.cli import build_app\nbuild_app()\nprint(','.join(m for m in ('PySide6','vispy','torch','open3d','cv2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_import_contracts_hold() -> None:
    """The layers, sibling independence, no cycles (function-level imports included), Qt only in
    the app, torch only in the learned detectors: import-linter's contracts in pyproject.toml."""
    import shutil
    from pathlib import Path

    import pytest

    pytest.importorskip("importlinter", reason="import-linter is not installed (pip install -e '.[dev]')")
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe is not None
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [exe, "--config", str(repo / "pyproject.toml"), "--no-cache"], cwd=repo, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout
