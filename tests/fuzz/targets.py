"""What the fuzz tests break: every reader of the project, each as a target.

A :class:`Target` builds a small valid seed (a file, or a folder with one ``member`` file to
break), and ``read`` uses it the way the app and the CLI do (open, load every frame and image,
the labels, the ``info`` report). The fuzzer replaces the member with mutated bytes and
requires ``read`` to succeed or to raise the project's own
:class:`~fusionlabel.core.errors.DataError` naming a file of the seed (docs/reliability.md).

Seeds are synthetic (built here) or copied from ``../shared/real_data`` (skipped where absent).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.conftest import shared_dir

Reader = Callable[[Path], object]


@dataclass(frozen=True)
class Target:
    """name : the corpus folder name; build(folder) -> the seed's root (a file or a folder);
    member : the file to break, relative to the root's folder (None: the root file itself);
    read : the reader under test, given the root; json : the member is JSON (structural
    mutations apply); needs : a ``real_data`` sub-path the seed copies (skipped when absent)."""

    name: str
    build: Callable[[Path], Path]
    read: Reader
    member: str | None = None
    json: bool = False
    needs: str | None = None


# -- readers -------------------------------------------------------------------------------------


def read_recording(root: Path) -> None:
    """Open with the sniffing opener, load every frame and image, the labels, the info report."""
    from fusionlabel.io.open import open_recording
    from fusionlabel.pipeline.inspect import check_frames, summarize

    rec = open_recording(root)
    check = check_frames(rec, list(range(min(len(rec), 4))))  # collects each frame's DataError
    try:
        rec.labels  # noqa: B018  (a property that reads the label file)
    except Exception as exc:
        from fusionlabel.core.errors import DataError

        if not isinstance(exc, DataError):
            raise
    summarize(rec, check)


def read_cloud(root: Path) -> None:
    from fusionlabel.io.pointcloud import read_point_cloud

    read_point_cloud(root)


def read_radar_pcd(root: Path) -> None:
    from fusionlabel.io.pcd import read_radar_pcd as read

    read(root)


def read_labels(root: Path) -> None:
    from fusionlabel.io.native_labels import read_native_labels

    read_native_labels(root)


def read_review(root: Path) -> None:
    from fusionlabel.io.review_file import read_review as read

    read(root)


def read_session(root: Path) -> None:
    """The autosave / journal beside ``labels.json`` in ``root``'s folder."""
    from fusionlabel.io import session as S

    label_path = root.parent / "labels.json"
    S.read_autosave(label_path)
    S.load(label_path)


def read_calibration(root: Path) -> None:
    from fusionlabel.core.calibration import load_rig

    load_rig(root)


def read_openlabel(root: Path) -> None:
    from fusionlabel.io.openlabel_read import read_openlabel as read

    read(root)


# -- seeds ---------------------------------------------------------------------------------------

CLOUD_FIELDS = {"intensity": np.linspace(0, 1, 12).astype(np.float32)}


def _cloud():  # type: ignore[no-untyped-def]
    from fusionlabel.core.frames import PointCloud

    rng = np.random.default_rng(0)
    return PointCloud(rng.uniform(-20, 20, (12, 3)).astype(np.float32), CLOUD_FIELDS)


def _pcd(encoding: str) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        from fusionlabel.io.pcd import write_pcd

        p = d / "cloud.pcd"
        write_pcd(p, _cloud(), encoding=encoding)  # type: ignore[arg-type]
        return p

    return build


def _ply(binary: bool) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        from fusionlabel.io.pointcloud import write_ply

        p = d / "cloud.ply"
        write_ply(p, _cloud(), binary=binary)
        return p

    return build


def _bin(name: str) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        from fusionlabel.io.pointcloud import write_bin

        p = d / name
        write_bin(p, _cloud())
        return p

    return build


def _npy(d: Path) -> Path:
    p = d / "cloud.npy"
    np.save(p, np.hstack([_cloud().xyz, CLOUD_FIELDS["intensity"][:, None]]))
    return p


def _radar_pcd(d: Path) -> Path:
    from fusionlabel.io.nuscenes_sensors import _write_radar_pcd

    p = d / "radar.pcd"
    _write_radar_pcd(
        p, np.array([[10.0, 1, 0], [20, -2, 0.5]], np.float32), np.array([1.0, -2.0]), np.array([5.0, 7.0])
    )
    return p


def native_recording(d: Path) -> Path:
    """A 3-frame native recording: LiDAR, camera, radar, ego poses, labels."""
    import cv2

    from fusionlabel.core.boxes import Boxes
    from fusionlabel.core.calibration import Camera, Lidar, Radar, Rig
    from fusionlabel.core.frames import PointCloud, RadarDetections
    from fusionlabel.core.labels import FrameLabels, LabelSet
    from fusionlabel.core.transforms import Transform
    from fusionlabel.io.native import NativeWriter

    R = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    cam = Camera(
        "cam", K=[[50, 0, 16], [0, 50, 12], [0, 0, 1]], width=32, height=24, T_ego_cam=Transform.from_rt(R, [1, 0, 1.5])
    )
    rig = Rig(
        {"cam": cam}, {"lidar": Lidar("lidar", Transform.from_rt(np.eye(3), [0, 0, 1.8]))}, {"radar": Radar("radar")}
    )
    w = NativeWriter(d / "native", rig, reference="lidar")
    rng = np.random.default_rng(1)
    _ok, png = cv2.imencode(".png", np.full((24, 32, 3), 90, np.uint8))
    frames = {}
    for i in range(3):
        t = 1_000_000_000 + i * 100_000_000
        pts = rng.uniform(-10, 10, (40, 3))
        w.add_lidar("lidar", t, PointCloud(pts, {"intensity": rng.uniform(0, 1, 40).astype(np.float32)}))
        w.add_image("cam", t + 1000, png.tobytes(), ".png")
        w.add_radar("radar", t + 2000, RadarDetections([[8.0, 0, 0]], [1.5], [3.0]))
        frames[i] = FrameLabels(
            np.array([3]), ("Car",), Boxes.from_array([[10 + i, 0, 0.8, 4, 2, 1.5, 0.1]]), np.ones(1), ({},)
        )
    ts = np.array([1_000_000_000 + i * 100_000_000 for i in range(3)], np.int64)
    return w.finish(
        ego_poses=(ts, [Transform.from_yaw(0.01 * i, [i, 0, 0]) for i in range(3)]), labels=LabelSet(frames)
    )


def _native_file(name: str) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        return native_recording(d) / name

    return build


def _review(d: Path) -> Path:
    from fusionlabel.core.review import Review, ReviewItem, ReviewQueue
    from fusionlabel.io.native_labels import read_labels
    from fusionlabel.io.review_file import write_review

    labels = read_labels(native_recording(d) / "labels.json")
    q = ReviewQueue((ReviewItem(1, 0.8, ({"track": 3, "reason": "id switch", "severity": 0.8},)),), 3, 0.5)
    p = d / "native" / "labels.review.json"
    write_review(p, Review(q, provenance={"tool": "fuzz"}), labels)
    return p


def _session(kind: str) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        from dataclasses import replace

        from fusionlabel.core.edits import move_box, set_attribute
        from fusionlabel.io import session as S

        lp = native_recording(d) / "labels.json"
        st = S.load(lp)
        if kind == "autosave":
            return S.write_autosave(replace(st, frame=2), lp)
        j = S.Journal(lp)
        for n, fn in enumerate(
            [lambda ls: set_attribute(ls, 0, 3, "n", 1), lambda ls: move_box(ls, 2, 3, [0.5, 0, 0])]
        ):
            new = replace(st, labels=fn(st.labels))
            j.record("do", st, S.labels_change(st.labels, new.labels), f"edit {n}")
            st = new
        j.record("undo", st, S.labels_change(st.labels, st.labels), "edit 1", cid=2)
        j.close()
        return S.journal_path(lp)

    return build


def _calibration(d: Path) -> Path:
    p = d / "rig.yaml"
    shutil.copy(Path(__file__).resolve().parents[2] / "calib" / "sample_rig.yaml", p)
    return p


def _openlabel(d: Path) -> Path:
    from fusionlabel.io.native import open_native
    from fusionlabel.io.openlabel import write_openlabel

    rec = open_native(native_recording(d))
    p = d / "labels.openlabel.json"
    assert rec.labels is not None
    write_openlabel(p, rec.labels, {i: int(t) for i, t in enumerate(rec.timestamps_ns)}, rec.rig)
    return p


def _real(sub: str) -> Callable[[Path], Path]:
    """A copy of ``real_data/<sub>`` (a file or a folder) in ``d``; returns the copy."""

    def build(d: Path) -> Path:
        src = shared_dir() / "real_data" / sub
        dst = d / src.name
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy(src, dst)
        return dst

    return build


KITTI_SEQ = "kitti/tracking/training"
ARGO = "argoverse2/sensor/val/7fab2350-7eaf-3b7e-a39d-6937a4c1bede"


def _kitti_tracking(d: Path) -> Path:
    """The KITTI tracking sequence 0001 (calibration, labels, images) without its other sequences."""
    src = shared_dir() / "real_data" / KITTI_SEQ
    dst = d / "training"
    for sub in ("calib/0001.txt", "label_02/0001.txt"):
        (dst / sub).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / sub, dst / sub)
    shutil.copytree(src / "image_02" / "0001", dst / "image_02" / "0001")
    return dst / "label_02" / "0001.txt"


KITTI_RAW = "kitti/raw/2011_09_26"
KITTI_OBJECT = "kitti/object/training"
DGP_SCENE = "tri_dgp/test_scene/scene_02"


def _kitti_raw(d: Path) -> Path:
    """A KITTI raw drive (the day's calibration, two frames of velodyne and image_02)."""
    src = shared_dir() / "real_data" / KITTI_RAW
    dst = d / "2011_09_26"
    dst.mkdir(parents=True)
    for f in src.glob("calib_*.txt"):
        shutil.copy(f, dst / f.name)
    drive = "2011_09_26_drive_sfnd_sync"
    for sub, ext in (("velodyne_points/data", ".bin"), ("image_02/data", ".png")):
        (dst / drive / sub).mkdir(parents=True)
        for i in range(2):
            shutil.copy(src / drive / sub / f"{i:010d}{ext}", dst / drive / sub / f"{i:010d}{ext}")
    return dst / drive


def _dgp_scene(d: Path) -> Path:
    """A TRI DGP scene (scene JSON, calibration, ontology, LiDAR, boxes), its camera images left out."""
    src = shared_dir() / "real_data" / DGP_SCENE
    dst = d / src.name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("rgb", "bounding_box_2d", "agent*"))
    return dst


def _dgp_member(kind: str) -> str:
    src = shared_dir() / "real_data" / DGP_SCENE
    if kind == "scene":
        return next(src.glob("scene_*.json")).name if src.exists() else "scene.json"
    if kind == "calibration":
        return f"calibration/{next(src.glob('calibration/*.json')).name}" if src.exists() else "calibration/c.json"
    files = sorted(src.glob("bounding_box_3d/LIDAR/*.json")) if src.exists() else []
    return f"bounding_box_3d/LIDAR/{files[0].name}" if files else "bounding_box_3d/LIDAR/b.json"


def _folder(d: Path) -> Path:
    """A plain folder of three binary PCD clouds with a timestamps.csv (io/folder.py)."""
    from fusionlabel.io.pcd import write_pcd

    root = d / "clouds"
    root.mkdir()
    lines = ["name,timestamp_ns"]
    for i in range(3):
        write_pcd(root / f"{i:06d}.pcd", _cloud(), "binary")
        lines.append(f"{i:06d},{1_000_000_000 + i * 100_000_000}")
    (root / "timestamps.csv").write_text("\n".join(lines) + "\n")
    return root


TARGETS: list[Target] = [
    Target("pcd-binary", _pcd("binary"), read_cloud),
    Target("pcd-ascii", _pcd("ascii"), read_cloud),
    Target("pcd-compressed", _pcd("binary_compressed"), read_cloud),
    Target("ply-binary", _ply(True), read_cloud),
    Target("ply-ascii", _ply(False), read_cloud),
    Target("bin-kitti", _bin("000000.bin"), read_cloud),
    Target("bin-nuscenes", _bin("sweep.pcd.bin"), read_cloud),
    Target("npy", _npy, read_cloud),
    Target("radar-pcd", _radar_pcd, read_radar_pcd),
    Target("cloud-recording", _pcd("binary"), read_recording),
    Target("native-manifest", _native_file(""), read_recording, "recording.json", json=True),
    Target("native-calib", _native_file(""), read_recording, "calib.yaml"),
    Target("native-poses", _native_file(""), read_recording, "ego_poses.csv"),
    Target("native-lidar", _native_file(""), read_recording, "lidar/lidar/000001.bin"),
    Target("native-radar", _native_file(""), read_recording, "radar/radar/000001.csv"),
    Target("native-image", _native_file(""), read_recording, "camera/cam/000001.png"),
    Target("native-labels", _native_file("labels.json"), read_labels, json=True),
    Target("review", _review, read_review, json=True),
    Target("autosave", _session("autosave"), read_session, json=True),
    Target("journal", _session("journal"), read_session),
    Target("calibration", _calibration, read_calibration),
    Target("openlabel", _openlabel, read_openlabel, json=True),
    Target("kitti-labels", _kitti_tracking, read_recording, needs=KITTI_SEQ),
    Target("kitti-calib", _kitti_tracking, read_recording, "../calib/0001.txt", needs=KITTI_SEQ),
    Target(
        "nuscenes-tables",
        _real("lyft_nuscenes_schema"),
        read_recording,
        "v1.01-train/sample_data.json",
        json=True,
        needs="lyft_nuscenes_schema",
    ),
    Target(
        "nuscenes-calibration",
        _real("lyft_nuscenes_schema"),
        read_recording,
        "v1.01-train/calibrated_sensor.json",
        json=True,
        needs="lyft_nuscenes_schema",
    ),
    Target("argoverse2-poses", _real(ARGO), read_recording, "city_SE3_egovehicle.feather", needs=ARGO),
    Target(
        "argoverse2-calibration", _real(ARGO), read_recording, "calibration/egovehicle_SE3_sensor.feather", needs=ARGO
    ),
    Target(
        "continental-radar",
        _real("radar/continental_srr520_1708578209_76111685_hrr_detection.yaml"),
        read_recording,
        needs="radar",
    ),
    Target("kitti-raw-calib", _kitti_raw, read_recording, "../calib_velo_to_cam.txt", needs=KITTI_RAW),
    Target(
        "kitti-raw-velodyne",
        _kitti_raw,
        read_recording,
        "velodyne_points/data/0000000001.bin",
        needs=KITTI_RAW,
    ),
    Target("kitti-object-calib", _real(KITTI_OBJECT), read_recording, "calib/000001.txt", needs=KITTI_OBJECT),
    Target("kitti-object-labels", _real(KITTI_OBJECT), read_recording, "label_2/000001.txt", needs=KITTI_OBJECT),
    Target("dgp-scene", _dgp_scene, read_recording, _dgp_member("scene"), json=True, needs=DGP_SCENE),
    Target("dgp-calibration", _dgp_scene, read_recording, _dgp_member("calibration"), json=True, needs=DGP_SCENE),
    Target("dgp-boxes", _dgp_scene, read_recording, _dgp_member("boxes"), json=True, needs=DGP_SCENE),
    Target("folder-cloud", _folder, read_recording, "000001.pcd"),
    Target("folder-times", _folder, read_recording, "timestamps.csv"),
    Target(
        "mcap",
        _real("derived/kitti_sfnd_2frames_ros2.mcap"),
        read_recording,
        needs="derived/kitti_sfnd_2frames_ros2.mcap",
    ),
]

BY_NAME = {t.name: t for t in TARGETS}


def member_path(target: Target, root: Path) -> Path:
    """The file a target breaks: the root itself, or ``member`` beside / inside it."""
    if target.member is None:
        return root
    base = root if root.is_dir() else root.parent
    return (base / target.member).resolve()


def json_dump(d: object) -> bytes:
    return json.dumps(d).encode()
