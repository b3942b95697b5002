"""CVAT's exports checked with the tool that reads and writes them: Datumaro (PyPI ``datumaro``,
installed by scripts/setup.sh without its pins). Datumaro's ``Cuboid3d`` rounds every number to
two decimals (1 cm, 0.01 rad), hence the tolerance. Our ``cvat-datumaro`` and ``cvat-kitti`` exports
load in Datumaro's own importers with the same boxes, classes and track ids, and the files
Datumaro's exporters write import into FusionLabel."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.labels import LabelSet
from fusionlabel.io.label_formats import LabelContext, get_format
from fusionlabel.io.open import SAMPLE, open_recording

dm = pytest.importorskip("datumaro", reason="datumaro is not installed (scripts/setup.sh installs it with --no-deps)")
from datumaro.components.annotation import AnnotationType, Cuboid3d
from datumaro.components.dataset import Dataset
from datumaro.components.dataset_base import DatasetItem
from datumaro.components.media import PointCloud


@pytest.fixture(scope="module")
def labels() -> LabelSet:
    lab = open_recording(SAMPLE).labels
    assert lab is not None
    return LabelSet({k: v for k, v in lab.frames.items() if k < 6})


#: Datumaro's Cuboid3d rounds position, rotation and scale to 2 decimals
ATOL = 0.0051


def _datumaro_boxes(ds: Dataset) -> dict[tuple[int, int], tuple[str, list[float], list[float], list[float]]]:
    names = ds.categories()[AnnotationType.label]
    out = {}
    for item in ds:
        frame = int(item.attributes["frame"])
        for ann in item.annotations:
            if ann.type == AnnotationType.cuboid_3d:
                out[(frame, int(ann.attributes["track_id"]))] = (
                    names[ann.label].name,
                    ann.position,
                    ann.rotation,
                    ann.scale,
                )
    return out


def test_our_datumaro_export_loads_in_datumaro(tmp_path: Path, labels: LabelSet) -> None:
    get_format("cvat-datumaro").write(tmp_path, labels, LabelContext())
    ds = Dataset.import_from(str(tmp_path), "datumaro")
    got = _datumaro_boxes(ds)
    assert len(got) == labels.num_boxes
    for k, fl in labels.frames.items():
        for tid, cat, box in zip(fl.track_ids, fl.categories, fl.boxes.to_array()):
            name, pos, rot, scale = got[(k, int(tid))]
            assert name == cat
            assert np.allclose(pos, box[:3], atol=ATOL) and np.allclose(scale, box[3:6], atol=ATOL)
            assert math.isclose(rot[2], box[6], abs_tol=ATOL)


def test_datumaro_written_files_import(tmp_path: Path) -> None:
    items = [
        DatasetItem(
            id=f"{k:06d}",
            media=PointCloud.from_file(path=str(tmp_path / f"{k:06d}.pcd")),
            annotations=[
                Cuboid3d(
                    position=[5.0 + k, 1.0, 0.8],
                    rotation=[0.0, 0.0, 0.3],
                    scale=[4.0, 1.8, 1.6],
                    label=1,
                    attributes={"track_id": 2},
                ),
                Cuboid3d(
                    position=[9.0, -2.0, 0.9],
                    rotation=[0.0, 0.0, -1.0],
                    scale=[0.6, 0.7, 1.8],
                    label=0,
                    attributes={"track_id": 5},
                ),
            ],
            attributes={"frame": k},
        )
        for k in range(3)
    ]
    ds = Dataset.from_iterable(items, categories=["Pedestrian", "Car"], media_type=PointCloud)
    ds.export(str(tmp_path / "dm"), "datumaro", save_media=False)
    ds.export(str(tmp_path / "kr"), "kitti_raw", save_media=False)
    a = get_format("cvat-datumaro").read(tmp_path / "dm", LabelContext()).labels
    b = get_format("cvat-kitti").read(tmp_path / "kr", LabelContext()).labels
    # the tracklet file numbers its tracks 1, 2, ... in track-id order (Datumaro's reader does the same)
    for lab, car in ((a, 2), (b, 1)):
        assert sorted(lab.frames) == [0, 1, 2] and len(lab.track_ids) == 2
        fl = lab.frames[1]
        i = list(fl.track_ids).index(car)
        assert fl.categories[i] == "Car"
        assert np.allclose(fl.boxes.to_array()[i][[0, 1, 2, 5, 6]], [6.0, 1.0, 0.8, 1.6, 0.3])
    # sizes: the Datumaro JSON keeps the cuboid's (sx, sy, sz); the tracklet file's w/h depend on the
    # Datumaro version (CVAT's fork writes w = sx, h = sy; PyPI datumaro 1.x writes h = sx, w = sy)
    assert np.allclose(a.frames[1].boxes.size[list(a.frames[1].track_ids).index(2)], [4.0, 1.8, 1.6])
    size_b = b.frames[1].boxes.size[list(b.frames[1].track_ids).index(1)]
    assert np.allclose(size_b, [4.0, 1.8, 1.6]) or np.allclose(size_b, [1.8, 4.0, 1.6])


def test_our_kitti_export_loads_in_datumaro(tmp_path: Path, labels: LabelSet) -> None:
    get_format("cvat-kitti").write(tmp_path, labels, LabelContext())
    ds = Dataset.import_from(str(tmp_path), "kitti_raw")
    got = {}
    for item in ds:
        frame = int(item.attributes["frame"])
        for ann in item.annotations:
            got.setdefault(frame, []).append((ann.position, ann.rotation, ann.scale))
    assert sum(len(v) for v in got.values()) == labels.num_boxes
    for k, fl in labels.frames.items():
        ours = sorted(map(tuple, fl.boxes.to_array()[:, [0, 1, 2, 6]].round(2)))
        theirs = sorted((p[0], p[1], p[2], r[2]) for p, r, _ in got[k])
        assert np.allclose(ours, theirs, atol=ATOL)
        # (sx, sy) come back as written in CVAT's order or swapped by datumaro 1.x; sz is the height
        sizes = sorted(tuple(sorted(s[:2])) + (s[2],) for _, _, s in got[k])
        ref = sorted(tuple(sorted(b[3:5])) + (b[5],) for b in fl.boxes.to_array().round(2))
        assert np.allclose(sizes, ref, atol=ATOL)
