"""Every sensor-data or calibration file in ../shared/real_data loads through FusionLabel's readers.

Each file is claimed by exactly one entry below; each entry opens its recording (or calls its
reader) and loads every frame, decoding images. A file no entry claims fails the test, so data
added to ../shared without a reader is noticed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path

import pytest

from fusionlabel.io.open import open_recording

NOT_SENSOR_DATA = {"PROVENANCE.md", "VERIFY_LOG.txt"}

#: files beside sensor data that no reader loads on purpose: glob -> reason
NOT_READ: dict[str, str] = {
    "tri_dgp/LICENSE": "TRI's MIT licence text of the DGP test scenes",
    "tri_dgp/test_scene/agents_*.json": "DGP agent (prediction) dataset index: not sensor data",
    "tri_dgp/test_scene/scene_*/agent*": "DGP agent tracks and slices (prediction tables): not read",
    "tri_dgp/test_scene/scene_*/bounding_box_2d/*": "DGP 2D boxes: not read (tests/io/test_dgp.py checks our projections against them)",
    "tri_dgp/test_scene/scene_*/bounding_box_3d/CAMERA_*/*": "the LIDAR boxes again in each camera's frame: not read (tests/io/test_dgp.py checks them)",
    "tri_dgp/test_scene/scene_*/feature_ontology/*": "DGP feature ontology (agent behaviour states): not read",
}


def _load_all(path: Path) -> int:
    rec = open_recording(path)
    n = 0
    for fr in rec:
        for ref in fr.images.values():
            img = ref.load()
            assert img.ndim == 3 and img.shape[2] == 3
        n += 1
    _ = rec.labels
    return n


def _kitti_tracking_calibs(root: Path) -> int:
    from fusionlabel.io.kitti import read_kitti_calib, rig_from_kitti_calib

    files = sorted((root / "kitti/tracking/training/calib").glob("*.txt"))
    for f in files:
        rig = rig_from_kitti_calib(read_kitti_calib(f), f)
        assert "image_02" in rig.cameras
    return len(files)


def _dgp_scenes(root: Path) -> int:
    from fusionlabel.io.dgp import scene_files

    return sum(_load_all(f.parent) for f in scene_files(root / "tri_dgp/test_scene"))


def _continental_objects(root: Path) -> int:
    from fusionlabel.io.radar import read_continental_objects

    files = sorted((root / "radar").glob("*_object.yaml"))
    for f in files:
        assert len(read_continental_objects(f).object_ids) > 0
    return len(files)


# (glob patterns relative to real_data, what loads them)
CASES: list[tuple[str, list[str], Callable[[Path], int]]] = [
    ("argoverse1", ["argoverse1/*.ply"], lambda r: sum(_load_all(p) for p in (r / "argoverse1").glob("*.ply"))),
    ("argoverse2", ["argoverse2/sensor/val/*/**"], lambda r: _load_all(next((r / "argoverse2/sensor/val").iterdir()))),
    ("kitti-object", ["kitti/object/training/*/*"], lambda r: _load_all(r / "kitti/object/training")),
    (
        "kitti-raw",
        ["kitti/raw/2011_09_26/calib_*.txt", "kitti/raw/2011_09_26/2011_09_26_drive_sfnd_sync/**"],
        lambda r: _load_all(r / "kitti/raw/2011_09_26/2011_09_26_drive_sfnd_sync"),
    ),
    (
        "kitti-raw-metadata",
        ["kitti/raw/2011_09_26/2011_09_26_drive_0001_sync_metadata_only/**"],
        lambda r: len(open_recording(r / "kitti/raw/2011_09_26/2011_09_26_drive_0001_sync_metadata_only").streams),
    ),
    (
        "kitti-tracking",
        ["kitti/tracking/training/image_02/*/*", "kitti/tracking/training/label_02/*"],
        lambda r: sum(_load_all(r / "kitti/tracking/training/image_02" / s) for s in ("0001", "0016")),
    ),
    ("kitti-tracking-calib", ["kitti/tracking/training/calib/*"], _kitti_tracking_calibs),
    ("lyft-tables", ["lyft_nuscenes_schema/**"], lambda r: len(open_recording(r / "lyft_nuscenes_schema").streams)),
    ("nuscenes-sample", ["nuscenes/**"], lambda r: _load_all(r / "nuscenes")),
    ("pcd", ["pcd/*/*.pcd"], lambda r: sum(_load_all(p) for p in sorted((r / "pcd").glob("*/*.pcd")))),
    (
        "radar-detections",
        ["radar/*_detection.yaml"],
        lambda r: sum(_load_all(p) for p in (r / "radar").glob("*_detection.yaml")),
    ),
    ("radar-objects", ["radar/*_object.yaml"], _continental_objects),
    (
        "rosbag2",
        ["rosbag2/*/*/*"],
        lambda r: sum(len(open_recording(p.parent).problems) for p in (r / "rosbag2").glob("*/*/metadata.yaml")),
    ),
    ("derived-bags", ["derived/*"], lambda r: sum(_load_all(p) for p in sorted((r / "derived").iterdir()))),
    (
        "tri-dgp",
        [
            "tri_dgp/test_scene/scene_dataset_*.json",
            "tri_dgp/test_scene/scene_*/scene_*.json",
            "tri_dgp/test_scene/scene_*/calibration/*",
            "tri_dgp/test_scene/scene_*/ontology/*",
            "tri_dgp/test_scene/scene_*/point_cloud/LIDAR/*",
            "tri_dgp/test_scene/scene_*/rgb/*/*",
            "tri_dgp/test_scene/scene_*/bounding_box_3d/LIDAR/*",
        ],
        _dgp_scenes,
    ),
]


def _claims(rel: str) -> list[str]:
    return [name for name, pats, _ in CASES if any(fnmatch.fnmatch(rel, p) for p in pats)]


def test_every_file_is_claimed_by_exactly_one_reader(real_data: Path) -> None:
    files = [p.relative_to(real_data).as_posix() for p in real_data.rglob("*") if p.is_file()]
    not_read = [f for f in files if any(fnmatch.fnmatch(f, p) for p in NOT_READ)]
    assert not [f for f in not_read if _claims(f)], "a file is both claimed and listed as not read"
    files = [f for f in files if f not in NOT_SENSOR_DATA and f not in not_read]
    assert len(files) > 100
    unclaimed = [f for f in files if not _claims(f)]
    twice = [f for f in files if len(_claims(f)) > 1]
    assert not unclaimed, f"files no reader test covers: {unclaimed}"
    assert not twice, f"files claimed twice: {twice}"


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_reader_loads_everything(real_data: Path, name: str) -> None:
    _, _, load = next(c for c in CASES if c[0] == name)
    assert load(real_data) > 0
