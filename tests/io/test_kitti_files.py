"""The single-file KITTI readers of ``fusionlabel.io.kitti_files`` and their re-export from ``fusionlabel.io.kitti``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.transforms import Transform
from fusionlabel.io import kitti, kitti_files
from fusionlabel.io.kitti_files import (
    format_kitti_tracking_labels,
    frame_labels_from_kitti,
    oxts_pose_track,
    parse_oxts_packet,
    read_kitti_calib,
    read_kitti_labels,
)

#: the names other modules, tests and benchmarks import from fusionlabel.io.kitti
USED_FROM_KITTI = {
    "CAMERAS", "DEFAULT_IMAGE_SIZE", "LIDAR", "KittiLabels", "format_kitti_tracking_labels",
    "kitti_labels_to_labelset", "kitti_T_rect_velo", "labelset_to_kitti_labels", "open_kitti_object",
    "open_kitti_raw", "open_kitti_tracking", "parse_kitti_timestamp", "read_kitti_calib", "read_kitti_labels",
    "read_kitti_timestamps", "rig_from_kitti_calib", "sniff_kitti_object", "sniff_kitti_raw",
    "sniff_kitti_tracking", "write_kitti_tracking_labels",
}  # fmt: skip


def test_kitti_reexports_the_file_readers() -> None:
    assert USED_FROM_KITTI <= set(kitti.__all__)
    for name in kitti.__all__:
        obj = getattr(kitti, name)  # every listed name resolves
        if hasattr(kitti_files, name):
            assert obj is getattr(kitti_files, name), name  # one definition, not a copy
    public_files = {n for n in vars(kitti_files) if not n.startswith("_") and n.isidentifier()}
    defined_here = {
        n for n in public_files if getattr(getattr(kitti_files, n), "__module__", None) == kitti_files.__name__
    }
    assert defined_here <= set(kitti.__all__)
    # the recordings stay in kitti, the file readers know nothing of them
    assert not hasattr(kitti_files, "open_kitti_tracking") and not hasattr(kitti_files, "Recording")
    from fusionlabel.io.open import READERS

    for _fmt, module, func in READERS:
        if module == "fusionlabel.io.kitti":
            assert callable(getattr(kitti, func))


def test_dev_labels_round_trip_byte_for_byte(kitti_tracking_dev: Path, tmp_path: Path) -> None:
    src = kitti_tracking_dev / "label" / "0000.txt"
    rows = read_kitti_labels(src)
    assert rows.kind == "tracking" and rows.score is None and len(rows) > 100
    first = src.read_text().splitlines()[0].split()
    assert (int(rows.frame[0]), int(rows.track_id[0]), rows.type[0]) == (int(first[0]), int(first[1]), first[2])
    assert rows.rotation_y[0] == float(first[16]) and np.all(rows.track_id[rows.dont_care] == -1)
    out = tmp_path / "0000.txt"
    kitti_files.write_kitti_tracking_labels(out, rows)
    assert out.read_bytes() == src.read_bytes()
    # with a score column (18 fields) the text reads back to the same rows
    scored = replace(rows, score=np.linspace(0, 1, len(rows)))
    again = tmp_path / "scored.txt"
    again.write_text(format_kitti_tracking_labels(scored))
    back = read_kitti_labels(again)
    assert back.score is not None and np.allclose(back.score, scored.score, atol=5e-7)
    assert np.array_equal(back.xyz, rows.xyz) and back.type == rows.type


def test_frame_labels_from_kitti(kitti_tracking_dev: Path) -> None:
    rows = read_kitti_labels(kitti_tracking_dev / "label" / "0000.txt")
    calib = read_kitti_calib(kitti_tracking_dev / "calib" / "0000.txt")
    T = kitti_files.kitti_T_rect_velo(calib, "0000.txt")
    sel = np.flatnonzero((rows.frame == 0) & ~rows.dont_care)
    fl = frame_labels_from_kitti(rows, sel, T, rows.track_id[sel], Path("0000.txt"))
    assert fl.track_ids.tolist() == rows.track_id[sel].tolist()
    assert fl.attributes is not None and fl.attributes[0]["bbox_2d"] == rows.bbox[sel[0]].tolist()
    # bottom centre (camera) + h/2 up = gravity centre (ego): back through T_rect_velo
    centre_rect = T.apply(fl.boxes.center)
    assert np.allclose(centre_rect[:, 1] + rows.hwl[sel, 0] / 2, rows.xyz[sel, 1], atol=1e-9)
    bad = replace(rows, hwl=np.where(np.arange(len(rows))[:, None] == sel[0], -1.0, rows.hwl))
    with pytest.raises(CorruptFileError, match="0000.txt: frame 0"):
        frame_labels_from_kitti(bad, sel, T, rows.track_id[sel], Path("0000.txt"))


def test_oxts_packets(tmp_path: Path) -> None:
    p = tmp_path / "oxts.txt"
    good = "49.0 8.4 110.0 0.01 0.02 0.3 " + " ".join(["0"] * 24)
    v = parse_oxts_packet(good, p, "line 1")
    assert v.shape == (30,) and v[2] == 110.0
    with pytest.raises(CorruptFileError, match=r"oxts.txt: line 2: oxts packet has 29 values"):
        parse_oxts_packet(good.rsplit(" ", 1)[0], p, "line 2")
    with pytest.raises(CorruptFileError, match=r"line 3: oxts packet is not numeric"):
        parse_oxts_packet(good.replace("110.0", "x"), p, "line 3")
    track = oxts_pose_track([v, v], np.array([0, 100], np.int64), Transform.identity(), p)
    assert len(track) == 2 and np.allclose(track.poses[0].matrix[:3, 3], 0.0)
    with pytest.raises(CorruptFileError, match="oxts.txt: cannot build ego poses"):
        oxts_pose_track([v, v], np.array([5, 5], np.int64), Transform.identity(), p)
