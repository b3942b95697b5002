"""Real KITTI data in the window (screenshot), the frame cache on a 10,000-frame recording,
and the session files (no GL needed for the last two)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.app.frame_cache import FrameCache
from fusionlabel.core.calibration import Lidar, Rig
from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.frames import Frame, PointCloud
from fusionlabel.core.recording import Recording, Stream
from fusionlabel.core.transforms import Transform

KITTI_DRIVE = "kitti/raw/2011_09_26/2011_09_26_drive_sfnd_sync"


@pytest.mark.gui
def test_screenshot_of_the_main_window_on_kitti(qtbot, make_window, real_data, tmp_path: Path) -> None:
    """The same code as `fusionlabel open <drive> --screenshot FILE` (docs/screenshot_kitti.png)."""
    import cv2

    from fusionlabel.app.command import screenshot_window
    from fusionlabel.io.open import open_recording

    rec = open_recording(real_data / KITTI_DRIVE)
    win = make_window(rec, label_path=tmp_path / "labels.json")
    assert len(win.current_points()) > 100_000 and "image_02" in win.panels
    out = tmp_path / "kitti.png"
    screenshot_window(win, out, settle_ms=300)
    img = cv2.imread(str(out))
    assert img is not None and img.shape[1] >= 1200
    gl = img[40:400, 20:600]
    assert len(np.unique(gl.reshape(-1, 3), axis=0)) > 50  # coloured points, not a blank canvas
    # (how fast a frame switch is: benchmarks/bench_app.py; a test asserts no timing)


class Endless(Recording):
    """10,000 frames of 120k random points, generated on demand (nothing stored)."""

    def _load_frame(self, index: int) -> Frame:
        rng = np.random.default_rng(index)
        xyz = rng.uniform(-50, 50, (120_000, 3)).astype(np.float32)
        return Frame(index, int(self.timestamps_ns[index]), {"lidar": PointCloud(xyz, {}, "lidar")})


def _endless() -> Endless:
    rig = Rig(
        {},
        {
            "lidar": Lidar(
                "lidar",
                Transform.identity() if hasattr(Transform, "identity") else Transform.from_rt(np.eye(3), [0, 0, 0]),
            )
        },
        {},
    )
    t = np.arange(10_000, dtype=np.int64) * 100_000_000
    return Endless(Path("endless"), "synthetic", rig, {"lidar": Stream("lidar", "lidar", t)}, "lidar")


def test_memory_stays_bounded_on_10000_frames() -> None:
    rec = _endless()
    cache = FrameCache(rec, capacity=6, cameras=False)
    tracemalloc.start()
    try:
        for i in range(0, 10_000, 125):  # 80 jumps across the whole recording, with prefetch
            d = cache.get(i)
            assert d.index == i and len(d.points) == 120_000
            cache.prefetch(i + 1, ahead=3)
        cache.wait_idle()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        cache.close()
    per_frame = 120_000 * 16  # xyz + intensity float32
    assert len(cache.cached()) <= 6
    # cache (6) + prefetch (3) + the float64 temporaries of two loads in flight; not 10,000 frames (19 GB)
    assert peak < 24 * per_frame, f"peak {peak / 1e6:.0f} MB"
    assert cache.nbytes <= 6 * per_frame


def test_prefetched_frames_are_cache_hits(tiny_recording) -> None:
    from fusionlabel.io.native import open_native

    cache = FrameCache(open_native(tiny_recording), capacity=2)
    cache.get(0)
    cache.prefetch(1, ahead=2)
    cache.wait_idle()
    assert sorted(cache.cached()) == [1, 2]  # capacity 2: frame 0 evicted
    h = cache.hits
    assert cache.get(1).camera_base["cam_front"].shape == (240, 320, 3) and cache.hits == h + 1
    cache.close()


def test_session_files_round_trip_and_refuse_what_they_cannot_read(tmp_path: Path) -> None:
    from fusionlabel.core.boxes import Boxes
    from fusionlabel.core.edits import add_box
    from fusionlabel.core.review import ReviewItem, ReviewQueue
    from fusionlabel.io import session as S

    lp = tmp_path / "labels.json"
    labels, _ = add_box(S.LabelSet(), 3, Boxes.from_array([[5, 1, 0.8, 4, 2, 1.5, 0.3]]), "Car")
    q = ReviewQueue((ReviewItem(3, 0.7, ({"track_id": 1, "reason": "crossing", "severity": 0.7},)),), 10)
    st = S.resolve(S.SessionState(labels, q, {}, 3), 3, user="ann")
    saver = S.Autosaver(lp, every=2)
    assert not saver.edited(st) and not S.autosave_path(lp).exists()
    assert saver.edited(st) and S.autosave_path(lp).exists()
    info = S.read_autosave(lp)
    assert info.user and info.num_boxes == 1 and info.state.frame == 3
    assert info.state.resolutions[3].user == "ann" and info.state.review == q
    base = S.save(st, lp)
    assert not S.autosave_path(lp).exists()
    back = S.load(lp)
    assert back.base == base
    assert back.review == q and back.resolutions == st.resolutions
    assert back.labels.get(3).attributes[0]["state"] == "edited"
    np.testing.assert_allclose(back.labels.get(3).boxes.to_array(), labels.get(3).boxes.to_array())
    # a corrupt autosave is reported, not silently dropped, and left in place
    S.autosave_path(lp).write_text("{broken")
    with pytest.raises(CorruptFileError, match="autosave"):
        S.read_autosave(lp)
    assert S.autosave_path(lp).exists()
    # a review file from a newer version blocks saving before anything is written
    rp = S.review_path(lp)
    rp.write_text('{"format": "fusionlabel.review_state", "version": 2}')
    before = lp.read_bytes()
    with pytest.raises(CorruptFileError, match="newer"):
        S.save(st, lp)
    assert lp.read_bytes() == before


def test_prefetch_around_loads_the_next_and_the_previous_frame(tiny_recording) -> None:
    from fusionlabel.io.native import open_native

    cache = FrameCache(open_native(tiny_recording), capacity=4)
    cache.get(1)
    cache.prefetch_around(1, ahead=1, behind=1)
    cache.wait_idle()
    assert sorted(cache.cached()) == [0, 1, 2]  # both neighbours, off the GUI thread
    h = cache.hits
    cache.get(0)
    assert cache.hits == h + 1
    cache.prefetch_around(0, ahead=3, behind=2)  # clipped to the recording
    cache.wait_idle()
    assert sorted(cache.cached()) == [0, 1, 2]
    cache.close()
