"""AB3DMOT detection reading, KITTI result writing/reading, seqmaps; on the real dev split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.io.kitti import kitti_T_rect_velo, read_kitti_calib
from fusionlabel.io.kitti_mot import (
    detections_to_ego,
    format_ab3dmot_detections,
    labels_to_kitti_results,
    read_ab3dmot_detections,
    read_kitti_results,
    read_seqmap,
    write_kitti_results,
)
from fusionlabel.track import Tracker, TrackerConfig


def test_real_detections_and_seqmap(kitti_tracking_dev: Path) -> None:
    d = read_ab3dmot_detections(kitti_tracking_dev / "detection/pointrcnn_Car/0000.txt")
    assert len(d) > 100 and set(d.type) == {"Car"}
    assert d.frame.min() >= 0 and np.all(d.hwl > 0)
    seqs = read_seqmap(kitti_tracking_dev / "seqmap/dev.seqmap")
    assert [s.name for s in seqs][:2] == ["0000", "0002"] and seqs[0].num_frames == 154
    assert d.frame.max() < seqs[0].num_frames
    # boxes in the LiDAR frame: cars ahead (x > 0), on the ground (z ~ -1 m below the sensor)
    cal = kitti_tracking_dev / "calib/0000.txt"
    b = detections_to_ego(d, kitti_T_rect_velo(read_kitti_calib(cal), cal))
    assert np.median(b.center[:, 0]) > 0 and -2.5 < np.median(b.center[:, 2]) < 0


def test_detection_text_round_trip(tmp_path: Path, kitti_tracking_dev: Path) -> None:
    d = read_ab3dmot_detections(kitti_tracking_dev / "detection/pointrcnn_Cyclist/0000.txt")
    p = tmp_path / "0000.txt"
    p.write_text(format_ab3dmot_detections(d))
    d2 = read_ab3dmot_detections(p)
    assert d2.type == d.type
    for f in ("frame", "bbox", "score", "hwl", "xyz", "rotation_y", "alpha"):
        np.testing.assert_array_equal(getattr(d2, f), getattr(d, f))


@pytest.mark.parametrize(
    "text, reason",
    [
        ("0,2,1,2,3,4,5,1,1,1,0,0,0,0\n", "15 comma-separated"),
        ("0,2,1,2,3,4,x,1,1,1,0,0,0,0,0\n", "non-numeric"),
        ("0,7,1,2,3,4,5,1,1,1,0,0,0,0,0\n", "unknown type code"),
        ("0,2,1,2,3,4,5,1,0,1,0,0,0,0,0\n", "dimensions"),
    ],
)
def test_bad_detection_files_name_the_file(tmp_path: Path, text: str, reason: str) -> None:
    p = tmp_path / "0001.txt"
    p.write_text(text)
    with pytest.raises(CorruptFileError) as e:
        read_ab3dmot_detections(p)
    assert str(p) in str(e.value) and reason in str(e.value)
    with pytest.raises(DataError):
        read_ab3dmot_detections(tmp_path / "missing.txt")
    (tmp_path / "bad.seqmap").write_text("0000 empty 0\n")
    with pytest.raises(CorruptFileError):
        read_seqmap(tmp_path / "bad.seqmap")


def test_result_writer_reader_round_trip(tmp_path: Path, kitti_tracking_dev: Path) -> None:
    cal_path = kitti_tracking_dev / "calib/0000.txt"
    cal = read_kitti_calib(cal_path)
    T = kitti_T_rect_velo(cal, cal_path)
    d = read_ab3dmot_detections(kitti_tracking_dev / "detection/pointrcnn_Car/0000.txt")
    d = d.select(d.frame < 40)
    boxes = detections_to_ego(d, T).to_array()
    trk = Tracker(TrackerConfig.for_class("Car"))
    codes = trk.category_codes(list(d.type))
    for k in range(40):
        m = d.frame == k
        trk.step_arrays(boxes[m], d.score[m], codes[m], d.bbox[m])
    res = trk.finish()
    kl = labels_to_kitti_results(res.labels, T, cal["P2"].reshape(3, 4), (1242, 375))
    assert len(kl) == res.labels.num_boxes > 0
    p = tmp_path / "0000.txt"
    write_kitti_results(p, kl)
    lines = p.read_text().splitlines()
    assert all(len(line.split()) == 18 for line in lines)
    back = read_kitti_results(p)
    np.testing.assert_array_equal(back.frame, kl.frame)
    np.testing.assert_array_equal(back.track_id, kl.track_id)
    for f in ("bbox", "hwl", "xyz", "rotation_y", "score", "alpha"):
        np.testing.assert_allclose(getattr(back, f), getattr(kl, f), atol=1e-6)
    # matched boxes carry the detection's 2D box; the 3D box maps back to the detection's
    first = np.flatnonzero(kl.frame == kl.frame.min())
    det0 = np.flatnonzero(d.frame == kl.frame.min())
    for i in first:
        j = det0[np.argmin(np.abs(d.bbox[det0] - kl.bbox[i]).sum(axis=1))]
        np.testing.assert_allclose(kl.bbox[i], d.bbox[j], atol=1e-9)
        np.testing.assert_allclose(kl.xyz[i], d.xyz[j], atol=0.5)
    # ids unique within a frame and >= 1
    for k in np.unique(kl.frame):
        ids = kl.track_id[kl.frame == k]
        assert len(set(ids.tolist())) == len(ids) and ids.min() >= 1
