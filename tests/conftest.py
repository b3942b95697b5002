"""Shared fixtures.

Real sensor data lives in ``../shared/real_data`` beside the repository (non-commercial: read
from there, never copied in). Tests that need it skip with a clear reason where it is absent,
as in a user's fresh clone; CI has it. ``FUSIONLABEL_SHARED`` overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("FUSIONLABEL_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``../shared/real_data``; skips the test where it is absent."""
    p = shared_dir() / "real_data"
    if not p.is_dir():
        pytest.skip(f"real sensor data not found at {p} (set FUSIONLABEL_SHARED); CI provides it")
    return p


@pytest.fixture(scope="session")
def kitti_tracking_dev() -> Path:
    """``../shared/kitti_tracking`` (development split); skips where absent."""
    p = shared_dir() / "kitti_tracking"
    if not p.is_dir():
        pytest.skip(f"KITTI tracking development split not found at {p}; CI provides it")
    return p
