"""OpenLABEL read by the consumer's own tool: ASAM's reference library ``vcd``.

An interchange format is proven only by the consumer's tool reading it. Here ``vcd`` loads our
export, ``vcd.scl.Scene`` builds every camera from the streams and the coordinate-system tree,
and projects each cuboid's 8 corners (computed by ``vcd`` from the written ``val``) into every
camera; the pixels must equal :mod:`fusionlabel.core.projection`'s to 0.5 px. The other way
round, ``vcd`` writes a file whose cuboids are in other coordinate systems of a tree (a LiDAR,
the world, a chain of mounts with quaternion and Euler poses) and our import must give back
the same ego-frame boxes.

``vcd`` is installed without its dependencies (it pins the full ``opencv-python``; the
headless build serves it). Measured maxima are in ``docs/label_formats.md``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera, Rig
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.projection import NEAR, _field_limit, project_points
from fusionlabel.core.recording import Recording
from fusionlabel.core.transforms import Transform
from fusionlabel.io.label_formats import LabelContext, read_label_file, write_label_file
from fusionlabel.io.open import open_recording
from fusionlabel.io.openlabel import EGO_CS, WORLD_CS, read_openlabel, schema_error

vcd_core = pytest.importorskip("vcd.core", reason="ASAM's OpenLABEL reference library vcd is not installed")
vcd_scl = pytest.importorskip("vcd.scl", reason="vcd.scl needs OpenCV (opencv-python-headless)")
vcd_types = pytest.importorskip("vcd.types")
vcd_utils = pytest.importorskip("vcd.utils")
vcd_schema = pytest.importorskip("vcd.schema")

SYNTH = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"
TOL_PX = 0.5

# vcd's pinhole lens-limit helper takes the cube root of a negative number for some real lenses
# (Argoverse 2); it then applies the polynomial without a radius limit, as intended for them.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in scalar power:RuntimeWarning")


# -- helpers ------------------------------------------------------------------------------------
@dataclass
class CameraCheck:
    """What was compared in one camera: corners in front of it, of them inside our lens model's
    field (compared to ``TOL_PX``), the largest pixel difference (overall, inside the image), and
    corners beyond the field that vcd's extrapolated lens polynomial folds back into the image."""

    camera: str
    in_front: int = 0
    compared: int = 0
    folded_in: int = 0
    max_err_px: float = 0.0
    max_err_in_image_px: float = 0.0


def _load_vcd(path: Path) -> Any:
    """Load ``path`` the way a consumer does, after checking it against vcd's own bundled schema
    (``VCD.load_from_file(validation=True)`` validates against an empty schema in vcd 6.0.3)."""
    import jsonschema

    d = json.loads(path.read_text())
    jsonschema.validate(d, vcd_schema.openlabel_schema)
    v = vcd_core.VCD()
    v.load_from_file(str(path), validation=True)
    return v


def _without_nonfinite_attributes(labels: LabelSet) -> LabelSet:
    """nuScenes' reader keeps unknown velocities as NaN attributes, which no JSON format can
    hold; the geometry under test does not depend on them."""

    def finite(v: Any) -> bool:
        if isinstance(v, float):
            return math.isfinite(v)
        if isinstance(v, (list, tuple)):
            return all(finite(x) for x in v)
        return True

    out = {}
    for k in labels.frames:
        fl = labels.get(k)
        attrs = tuple({a: v for a, v in d.items() if finite(v)} for d in fl.attributes)
        out[k] = replace(fl, attributes=attrs)
    return LabelSet(out)


def _inside(uv: NDArray[np.float64], cam: Camera) -> bool:
    return bool(0 <= uv[0] < cam.width and 0 <= uv[1] < cam.height)


def _vcd_projects_like_us(path: Path, rig: Rig, labels: LabelSet) -> dict[str, CameraCheck]:
    """Load ``path`` with vcd, build every camera and project every cuboid with vcd's own
    functions; compare with our projection of the same labels. Returns per-camera figures.

    A corner is compared where it is in front of the camera (``z > NEAR``) and, for a lens with
    distortion, inside the field where our lens model holds. Beyond it we project with the
    pinhole model on purpose, outside the image, while vcd extrapolates the polynomial; such
    corners are counted in ``folded_in`` where vcd puts them inside the image.
    """
    v = _load_vcd(path)
    scene = vcd_scl.Scene(v)
    root = v.get_root()
    streams = {n: s for n, s in root["streams"].items() if s["type"] == "camera"}
    assert set(streams) == set(rig.cameras), "every camera of the rig is a camera stream"
    checks = {n: CameraCheck(n) for n in streams}
    for name in streams:  # vcd builds every camera, statically and per frame
        cam, ours = scene.get_camera(name), rig.cameras[name]
        assert cam is not None and cam.is_camera(), name
        assert (cam.width, cam.height) == (ours.width, ours.height)
        want = "CameraFisheye" if ours.model == "fisheye" and np.any(ours.D) else "CameraPinhole"
        assert type(cam).__name__ == want
    for k in labels.frames:
        fl = labels.get(k)
        ours_corners = fl.boxes.corners()  # (N, 8, 3) ego frame
        vframe = v.get_frame(k)
        assert set(vframe["objects"]) == {str(int(t)) for t in fl.track_ids}
        for j, tid in enumerate(fl.track_ids):
            od = v.get_object_data(str(int(tid)), "box", frame_num=k)
            cs = od["coordinate_system"]
            pts_cs = vcd_utils.generate_cuboid_points_ref_4x8(od["val"])  # 4x8 in cs, vcd's corner order
            # vcd reads our cuboid encoding as we mean it: the same 8 corners in the ego frame
            pts_ego = scene.transform_points3d_4xN(pts_cs, cs, EGO_CS, frame_num=k)[:3].T
            dist = np.linalg.norm(pts_ego[:, None, :] - ours_corners[j][None, :, :], axis=2)
            perm = dist.argmin(axis=0)  # our corner c is vcd's corner perm[c]
            assert sorted(perm.tolist()) == list(range(8)) and dist.min(axis=0).max() < 1e-9
            for name in streams:
                cam = rig.cameras[name]
                uv_vcd, valid = scene.project_points3d_4xN(pts_cs, cs, name, frame_num=k)
                T_cam_ego = cam.T_ego_cam.inverse()
                p_cam = T_cam_ego.apply(ours_corners[j])
                uv_ours = project_points(ours_corners[j], cam, T_cam_ego).uv
                chk = checks[name]
                distorted = bool(np.any(cam.D))
                for c in range(8):
                    if p_cam[c, 2] <= NEAR:
                        continue
                    chk.in_front += 1
                    i = int(perm[c])
                    a, b = uv_ours[c], uv_vcd[:2, i]
                    r = math.hypot(p_cam[c, 0] / p_cam[c, 2], p_cam[c, 1] / p_cam[c, 2])
                    if distorted and r > _field_limit(cam):
                        assert not _inside(a, cam), (name, k, tid, c)
                        chk.folded_in += int(bool(valid[i]) and _inside(b, cam))
                        continue
                    assert valid[i] and np.all(np.isfinite(b)), (name, k, tid, c)
                    err = float(np.max(np.abs(a - b)))
                    assert err <= TOL_PX, f"{name} frame {k} track {tid} corner {c}: ours {a}, vcd {b}"
                    chk.compared += 1
                    chk.max_err_px = max(chk.max_err_px, err)
                    if _inside(a, cam):
                        chk.max_err_in_image_px = max(chk.max_err_in_image_px, err)
    assert sum(c.compared for c in checks.values()) > 0
    return checks


def _export(tmp_path: Path, rec: Recording, labels: LabelSet, name: str) -> tuple[Path, LabelContext]:
    ctx = LabelContext.from_recording(rec)
    path = tmp_path / f"{name}.openlabel.json"
    write_label_file("openlabel", path, labels, ctx)
    assert schema_error(json.loads(path.read_text())) is None
    return path, ctx


def _check_ego_poses(path: Path, ctx: LabelContext) -> None:
    """vcd's transform of the vehicle into the world in each frame is the recording's pose."""
    if not ctx.ego_poses:
        return
    scene = vcd_scl.Scene(_load_vcd(path))
    for k, T in ctx.ego_poses.items():
        M, static = scene.get_transform(EGO_CS, WORLD_CS, frame_num=k)
        assert not static and np.allclose(M, T.matrix, atol=1e-9)


# -- export: vcd builds the cameras and projects like us ------------------------------------------
def test_vcd_projects_the_synthetic_sample_like_us(tmp_path: Path) -> None:
    rec = open_recording(SYNTH)
    labels = rec.labels
    assert labels is not None
    path, ctx = _export(tmp_path, rec, labels, "synth")
    checks = _vcd_projects_like_us(path, rec.rig, labels)
    assert checks["cam_front"].compared > 1000 and checks["cam_front"].folded_in == 0
    _check_ego_poses(path, ctx)
    # and our own reader takes the file back unchanged
    back = read_label_file("openlabel", path).labels
    for k in labels.frames:
        assert np.allclose(back.get(k).boxes.to_array(), labels.get(k).boxes.to_array(), atol=0)


def test_vcd_builds_every_lens_model_we_support(tmp_path: Path) -> None:
    """Pinhole with 4, 5 and 8 coefficients and skew; OpenCV fisheye (written as vcd's
    Kannala model); a fisheye without coefficients (which we project as a pinhole)."""
    rec = open_recording(SYNTH)
    labels = rec.labels
    assert labels is not None
    base = rec.rig.cameras["cam_front"]
    T = base.T_ego_cam
    left = T @ Transform.from_rt(_Ry(-0.6), [0.0, 0.0, 0.0])  # turned left about the camera's y (down)
    K = [[400.0, 0.0, 320.0], [0.0, 400.0, 240.0], [0.0, 0.0, 1.0]]
    Ks = [[500.0, 2.5, 330.0], [0.0, 495.0, 238.0], [0.0, 0.0, 1.0]]
    cams = [
        Camera("pin4", Ks, 640, 480, T, D=[-0.1, 0.02, 0.001, -0.0005]),
        Camera("pin8", Ks, 640, 480, left, D=[0.2, -0.05, 0.0004, 0.0002, 0.001, 0.4, -0.02, 0.005]),
        Camera(
            "fish",
            [[260.0, 0.0, 640.0], [0.0, 262.0, 400.0], [0.0, 0.0, 1.0]],
            1280,
            800,
            left,
            D=[0.02, -0.01, 0.004, -0.0008],
            model="fisheye",
        ),
        Camera("fish0", K, 640, 480, T, model="fisheye"),
    ]
    rig = Rig(cameras={c.name: c for c in cams}, lidars=rec.rig.lidars)
    path = tmp_path / "lenses.openlabel.json"
    ctx = replace(LabelContext.from_recording(rec), rig=rig)
    write_label_file("openlabel", path, labels, ctx)
    checks = _vcd_projects_like_us(path, rig, labels)
    assert all(c.compared > 100 for c in checks.values()), checks
    d = json.loads(path.read_text())["openlabel"]["streams"]
    assert d["fish"]["stream_properties"]["intrinsics_fisheye"]["lens_coeffs"] == [1.0, 0.02, -0.01, 0.004, -0.0008]
    assert "intrinsics_pinhole" in d["fish0"]["stream_properties"]


def _Ry(a: float) -> NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def test_skewed_fisheye_is_refused(tmp_path: Path) -> None:
    from fusionlabel.core.errors import DataError

    cam = Camera(
        "f",
        [[300.0, 3.0, 320.0], [0.0, 300.0, 240.0], [0.0, 0.0, 1.0]],
        640,
        480,
        D=[0.01, 0.0, 0.0, 0.0],
        model="fisheye",
    )
    ctx = LabelContext(rig=Rig(cameras={"f": cam}))
    with pytest.raises(DataError, match="fisheye camera with skew"):
        write_label_file("openlabel", tmp_path / "x.json", LabelSet({}), ctx)
    assert not (tmp_path / "x.json").exists()


def _kitti_raw_labels(rec: Recording) -> LabelSet:
    """The KITTI raw drive has no labels: a few hand-placed boxes in front of and beside the car
    (ego = Velodyne frame), plus what the geometric detector finds."""
    from fusionlabel.pipeline.prelabel import prelabel

    found = prelabel(rec, "geometric").labels
    hand = Boxes.from_array(
        [
            [8.0, 0.0, -0.9, 4.2, 1.8, 1.5, 0.1],
            [15.0, 3.5, -0.8, 4.5, 1.9, 1.6, -0.3],
            [25.0, -4.0, -0.9, 0.8, 0.7, 1.8, 1.2],
            [4.0, 6.0, -1.0, 4.0, 1.8, 1.5, 1.5],
        ]
    )
    out = {}
    for k in range(len(rec)):
        fl = found.get(k)
        ids = np.concatenate([np.arange(9001, 9005), fl.track_ids])
        cats = ("Car", "Car", "Pedestrian", "Car", *fl.categories)
        out[k] = FrameLabels(
            ids, cats, hand.concat(fl.boxes), np.concatenate([np.ones(4), fl.scores]), ({},) * 4 + tuple(fl.attributes)
        )
    return LabelSet(out)


REAL = {
    "nuscenes": "nuscenes",
    "argoverse2": "argoverse2/sensor/val/7fab2350-7eaf-3b7e-a39d-6937a4c1bede",
    "kitti_tracking_0001": "kitti/tracking/training/label_02/0001.txt",
    "kitti_object": "kitti/object/training",
    "kitti_raw": "kitti/raw/2011_09_26/2011_09_26_drive_sfnd_sync",
    "dgp_scene_01": "tri_dgp/test_scene/scene_01",
    "dgp_scene_02": "tri_dgp/test_scene/scene_02",
}


@pytest.mark.parametrize("name", list(REAL))
def test_vcd_projects_real_recordings_like_us(tmp_path: Path, real_data: Path, name: str) -> None:
    """nuScenes (6 cameras), Argoverse 2 (9 distorted cameras, ego poses, real boxes), KITTI
    tracking (real boxes; the first 40 frames), KITTI object, KITTI raw (boxes placed here),
    TRI DGP (3 and 6 cameras, ego poses, real boxes)."""
    src = real_data / REAL[name]
    if not src.exists():
        pytest.skip(f"{src} is not in this copy of real_data")
    if name.startswith("dgp"):
        pytest.importorskip("fusionlabel.io.dgp", reason="this FusionLabel has no TRI DGP reader")
    rec = open_recording(src)
    labels = _kitti_raw_labels(rec) if name == "kitti_raw" else rec.labels
    assert labels is not None and labels.num_boxes > 0
    if name == "kitti_tracking_0001":
        labels = LabelSet({k: labels.get(k) for k in sorted(labels.frames)[:40]})
    labels = _without_nonfinite_attributes(labels)
    path, ctx = _export(tmp_path, rec, labels, name)
    checks = _vcd_projects_like_us(path, rec.rig, labels)
    assert len(checks) == len(rec.rig.cameras) >= 3
    assert all(c.folded_in == 0 for c in checks.values()), checks
    _check_ego_poses(path, ctx)


# -- import: any coordinate-system tree, written by vcd itself ------------------------------------
def _pose(T: Transform, form: str) -> Any:
    """``T`` as a vcd PoseData in one of the three transform forms OpenLABEL allows."""
    if form == "matrix":
        return vcd_types.PoseData([float(x) for x in T.matrix.reshape(-1)], vcd_types.TransformDataType.matrix_4x4)
    if form == "quaternion":
        w, x, y, z = T.quaternion.elements
        return vcd_types.PoseData([x, y, z, w, *T.translation.tolist()], vcd_types.TransformDataType.quat_and_trans_7x1)
    R = T.rotation  # ZYX: R = Rz(a0) Ry(a1) Rx(a2)
    a1 = -math.asin(R[2, 0])
    a0, a2 = math.atan2(R[1, 0], R[0, 0]), math.atan2(R[2, 1], R[2, 2])
    return vcd_types.PoseData(
        [a0, a1, a2, *T.translation.tolist()], vcd_types.TransformDataType.euler_and_trans_6x1, sequence="ZYX"
    )


def _cuboid_in(T_cs_ego: Transform, boxes: Boxes, j: int) -> list[float]:
    """Box ``j`` (ego frame) as a 10-value cuboid in a coordinate system ``cs``."""
    c = T_cs_ego.apply(boxes.center[j : j + 1])[0]
    R = T_cs_ego.rotation @ Transform.from_yaw(float(boxes.yaw[j])).rotation
    w, x, y, z = Transform.from_rt(R, [0, 0, 0]).quaternion.elements
    return [*c.tolist(), x, y, z, w, *boxes.size[j].tolist()]


def test_import_reads_cuboids_in_any_coordinate_system_of_a_vcd_tree(tmp_path: Path) -> None:
    """vcd writes: odom (root) -> vehicle-iso8855 (moving: per-frame transforms) -> velo_top
    (matrix pose), -> roof (quaternion pose) -> cam_roof (Euler pose). Each track's cuboids are
    in one of odom, velo_top, cam_roof or the vehicle; our import gives the ego boxes back."""
    rec = open_recording(SYNTH)
    labels = rec.labels
    assert labels is not None
    ctx = LabelContext.from_recording(rec)
    frames = sorted(labels.frames)[:8]
    T_ego_velo = Transform.from_rt(_Rz(0.02) @ _Ry(0.01), [1.2, 0.0, 1.9])
    T_ego_roof = Transform.from_rt(_Rz(0.3), [0.5, 0.2, 1.5])
    T_roof_cam = Transform.from_rt(
        np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]) @ _Ry(0.05), [0.1, 0.0, 0.2]
    )
    v = vcd_core.VCD()
    CS = vcd_types.CoordinateSystemType
    v.add_coordinate_system("odom", CS.scene_cs)
    v.add_coordinate_system("vehicle-iso8855", CS.local_cs, parent_name="odom")
    v.add_coordinate_system("velo_top", CS.sensor_cs, "vehicle-iso8855", _pose(T_ego_velo, "matrix"))
    v.add_coordinate_system("roof", CS.local_cs, "vehicle-iso8855", _pose(T_ego_roof, "quaternion"))
    v.add_coordinate_system("cam_roof", CS.sensor_cs, "roof", _pose(T_roof_cam, "euler"))
    T_cs_ego = {
        "velo_top": T_ego_velo.inverse(),
        "cam_roof": (T_ego_roof @ T_roof_cam).inverse(),
        "vehicle-iso8855": Transform.identity(),
    }
    kinds = ["odom", "velo_top", "cam_roof", "vehicle-iso8855"]
    uids: dict[int, Any] = {}
    for k in frames:
        T_world_ego = ctx.ego_poses[k]
        if k % 2:  # either direction of the per-frame transform, as vcd allows
            tr = vcd_types.Transform("vehicle-iso8855", "odom", _pose(T_world_ego, "matrix"))
        else:
            tr = vcd_types.Transform("odom", "vehicle-iso8855", _pose(T_world_ego.inverse(), "quaternion"))
        v.add_transform(k, tr)
        fl = labels.get(k)
        for j, tid in enumerate(fl.track_ids):
            if int(tid) not in uids:
                uids[int(tid)] = v.add_object(f"{fl.categories[j]} {tid}", fl.categories[j], uid=str(int(tid)))
            cs = kinds[int(tid) % 4]
            T = T_world_ego if cs == "odom" else T_cs_ego[cs]
            v.add_object_data(uids[int(tid)], vcd_types.cuboid("box", _cuboid_in(T, fl.boxes, j), cs), frame_value=k)
    path = tmp_path / "vcd_tree.json"
    v.save(str(path), validate=True)
    back, _ = read_openlabel(path)
    assert sorted(back.frames) == frames
    scene = vcd_scl.Scene(_load_vcd(path))
    for k in frames:
        a, b = labels.get(k), back.get(k)
        ia, ib = np.argsort(a.track_ids), np.argsort(b.track_ids)
        assert a.track_ids[ia].tolist() == b.track_ids[ib].tolist()
        da, db = a.boxes.to_array()[ia], b.boxes.to_array()[ib]
        assert np.allclose(da[:, :6], db[:, :6], atol=1e-9)
        assert np.allclose(np.angle(np.exp(1j * (da[:, 6] - db[:, 6]))), 0.0, atol=1e-9)
        # vcd's own chain agrees with the tree we walked
        M, _ = scene.get_transform("cam_roof", "vehicle-iso8855", frame_num=k)
        assert np.allclose(M, (T_ego_roof @ T_roof_cam).matrix, atol=1e-12)


def _Rz(a: float) -> NDArray[np.float64]:
    return Transform.from_yaw(a).rotation
