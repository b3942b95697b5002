"""Point-cloud file readers and writers (fusionlabel.io.pointcloud) on real and synthetic files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.errors import CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import PointCloud
from fusionlabel.core.transforms import Transform
from fusionlabel.io.pointcloud import (
    NUSCENES_RADAR_FIELDS,
    PointCloudFileRecording,
    open_point_cloud_file,
    read_pcd_header,
    read_point_cloud,
    read_radar_pcd,
    sensor_and_timestamp_from_name,
    sniff,
    write_bin,
    write_pcd,
    write_ply,
)

PCD_FILES = [
    "pcd/nebula/velodyne_vlp16_1673400472138016708.pcd",
    "pcd/nebula/hesai_xt32_1673400678101968885.pcd",
    "pcd/pcl/milk_color.pcd",
    "pcd/pcl/colored_cloud.pcd",
    "pcd/pcl/car6.pcd",
    "pcd/pcl/table_scene_mug_stereo_textured.pcd",
    "pcd/pcl/lamppost.pcd",
    "pcd/pcl/cturtle.pcd",
]
KITTI_OBJECT_BIN = "kitti/object/training/velodyne/000001.bin"
KITTI_RAW_DIR = "kitti/raw/2011_09_26/2011_09_26_drive_sfnd_sync/velodyne_points/data"
NUSCENES_LIDAR = "nuscenes/samples/LIDAR_TOP/n015-2018-07-24-11-22-45+0800__LIDAR_TOP__1532402927647951.pcd.bin"
ARGO1_PLY = "argoverse1/d60558d2-d1aa-34ee-a902-e061e346e02a__PC_315971347819783000.ply"


def _o3d_xyz(path: Path) -> np.ndarray:
    o3d = pytest.importorskip("open3d")
    pc = o3d.io.read_point_cloud(str(path), remove_nan_points=False, remove_infinite_points=False)
    return np.asarray(pc.points)


def _o3d_rgb(path: Path) -> np.ndarray:
    o3d = pytest.importorskip("open3d")
    pc = o3d.io.read_point_cloud(str(path), remove_nan_points=False, remove_infinite_points=False)
    return np.asarray(pc.colors)


def _assert_clouds_equal(a: PointCloud, b: PointCloud) -> None:
    np.testing.assert_array_equal(a.xyz, b.xyz)  # NaN == NaN here
    assert set(a.fields) == set(b.fields)
    for k in a.fields:
        assert a.fields[k].shape == b.fields[k].shape, k
        np.testing.assert_array_equal(a.fields[k], b.fields[k], err_msg=k)
    assert a.organized_shape == b.organized_shape


# --------------------------------------------------------------------------------------------
# real PCD files
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rel", PCD_FILES)
def test_real_pcd_loads_with_header_point_count(real_data: Path, rel: str) -> None:
    path = real_data / rel
    header = read_pcd_header(path)
    cloud = read_point_cloud(path, frame_id="s", timestamp_ns=5)
    assert len(cloud) == header.points == header.width * header.height > 0
    assert cloud.xyz.dtype == np.float32 and cloud.xyz.shape == (header.points, 3)
    assert cloud.frame_id == "s" and cloud.timestamp_ns == 5
    finite = np.isfinite(cloud.xyz).all(axis=1)
    if header.height > 1 and header.width > 1:
        assert cloud.organized_shape == (header.height, header.width)
    else:
        assert finite.all(), f"{rel}: unorganised cloud with non-finite points"
    # plausible extent: metres, nothing absurd
    assert np.abs(cloud.xyz[finite]).max() < 1000
    assert np.ptp(cloud.xyz[finite], axis=0).max() > 0.05
    # every non-xyz field is kept under its lower-case name (colour packed into rgb)
    expected = {f.lower() for f in header.fields} - {"x", "y", "z", "rgb", "rgba", "_"}
    assert expected <= set(cloud.fields)
    for v in cloud.fields.values():
        assert len(v) == len(cloud)


@pytest.mark.parametrize("rel", PCD_FILES + [ARGO1_PLY])
def test_xyz_matches_open3d(real_data: Path, rel: str) -> None:
    path = real_data / rel
    ours = read_point_cloud(path).xyz
    theirs = _o3d_xyz(path)
    assert theirs.shape == ours.shape
    # Open3D keeps float64 (ASCII parsed in double): equal once rounded to our float32
    np.testing.assert_array_equal(ours, theirs.astype(np.float32))


def test_organised_table_scene_mug_keeps_layout_and_nans(real_data: Path) -> None:
    path = real_data / "pcd/pcl/table_scene_mug_stereo_textured.pcd"
    cloud = read_point_cloud(path)
    assert cloud.organized_shape == (480, 640)
    nan_rows = np.isnan(cloud.xyz).any(axis=1)
    assert int(nan_rows.sum()) == 97_920
    assert np.isnan(cloud.xyz[nan_rows]).all()  # a missing return is NaN in all three
    fin = cloud.finite()
    assert len(fin) == 307_200 - 97_920 and fin.organized_shape is None
    assert np.isfinite(fin.xyz).all()
    assert fin.fields["rgb"].shape == (len(fin), 3)
    # row-major layout: the image's valid pixels form a contiguous region, not a random scatter
    valid = (~nan_rows).reshape(480, 640)
    assert valid[240, 320] and valid.sum(axis=1).max() <= 640
    # the VIEWPOINT (0 0 0 0 1 0 0: 180 deg about x) is reported, not applied
    h = read_pcd_header(path)
    assert h.viewpoint == (0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    assert h.T_cloud_viewpoint.allclose(Transform.from_rt(np.diag([1.0, -1.0, -1.0]), [0, 0, 0]))
    z = cloud.xyz[~nan_rows, 2]
    assert np.median(z) > 0  # stereo camera points in front (+z), as stored


@pytest.mark.parametrize("rel", ["pcd/pcl/colored_cloud.pcd", "pcd/pcl/milk_color.pcd"])
def test_packed_colour_decoded_like_open3d(real_data: Path, rel: str) -> None:
    path = real_data / rel
    cloud = read_point_cloud(path)
    rgb = cloud.fields["rgb"]
    assert rgb.dtype == np.uint8 and rgb.shape == (len(cloud), 3)
    assert len(np.unique(rgb, axis=0)) > 20  # real texture, not a constant
    assert rgb.astype(int).std(axis=0).min() > 3
    np.testing.assert_allclose(rgb / 255.0, _o3d_rgb(path), atol=1e-6)
    if "rgba" in read_pcd_header(path).fields:
        assert (cloud.fields["alpha"] == 255).all()


def test_colored_cloud_normals_and_curvature(real_data: Path) -> None:
    cloud = read_point_cloud(real_data / "pcd/pcl/colored_cloud.pcd")
    n = np.stack([cloud.fields[k] for k in ("normal_x", "normal_y", "normal_z")], axis=1)
    ok = np.isfinite(n).all(axis=1)
    assert ok.mean() > 0.9
    np.testing.assert_allclose(np.linalg.norm(n[ok], axis=1), 1.0, atol=1e-3)
    c = cloud.fields["curvature"]
    assert (c[np.isfinite(c)] >= 0).all() and (c[np.isfinite(c)] <= 1 / 3 + 1e-6).all()


def test_nebula_vlp16_mixed_field_types(real_data: Path) -> None:
    cloud = read_point_cloud(real_data / PCD_FILES[0])
    f = cloud.fields
    assert f["return_type"].dtype == np.uint8 and f["channel"].dtype == np.uint16
    assert f["time_stamp"].dtype == np.uint32
    assert set(np.unique(f["channel"])) <= set(range(16)) and len(np.unique(f["channel"])) > 8
    inten = cloud.intensity
    assert inten is not None and inten.dtype == np.float32 and 0 <= inten.min() and inten.max() <= 255
    # the decoded distance/azimuth fields agree with the decoded xyz: proves field offsets
    r = np.linalg.norm(cloud.xyz, axis=1)
    np.testing.assert_allclose(f["distance"], r, atol=0.01)
    # nebula's azimuth runs clockwise (seen from above) from +x: az = -atan2(y, x) mod 2 pi
    az = np.mod(-np.arctan2(cloud.xyz[:, 1], cloud.xyz[:, 0]), 2 * np.pi)
    d = np.abs(np.angle(np.exp(1j * (az - f["azimuth"]))))
    assert d.max() < 1e-3
    el = np.arcsin(np.clip(cloud.xyz[:, 2] / np.maximum(r, 1e-6), -1, 1))
    np.testing.assert_allclose(f["elevation"], el, atol=0.01)
    ts = f["time_stamp"]  # ns relative to the cloud stamp: within one 10 Hz sweep
    assert 0 < ts.max() < 100_000_000 and len(np.unique(ts)) > 100  # one stamp per firing block


def test_cturtle_binary_compressed_intensity(real_data: Path) -> None:
    cloud = read_point_cloud(real_data / "pcd/pcl/cturtle.pcd")
    assert len(cloud) == 167_198
    inten = cloud.intensity
    assert inten is not None and 0 <= inten.min() and inten.max() <= 1.0 and inten.std() > 0.01


# --------------------------------------------------------------------------------------------
# real .bin and .ply files
# --------------------------------------------------------------------------------------------
def _kitti_bins(real_data: Path) -> list[Path]:
    files = [real_data / KITTI_OBJECT_BIN, *sorted((real_data / KITTI_RAW_DIR).glob("*.bin"))]
    assert len(files) == 7
    return files


def test_kitti_velodyne_bins(real_data: Path) -> None:
    for path in _kitti_bins(real_data):
        cloud = read_point_cloud(path)
        assert len(cloud) == path.stat().st_size // 16
        raw = np.fromfile(path, dtype=np.float32).reshape(-1, 4)
        np.testing.assert_array_equal(cloud.xyz, raw[:, :3])
        assert np.isfinite(cloud.xyz).all()
        inten = cloud.intensity
        assert inten is not None and inten.min() >= 0 and inten.max() <= 1.0 and inten.std() > 0.01
        r = np.linalg.norm(cloud.xyz[:, :2], axis=1)
        assert r.max() < 130 and np.median(r) > 3  # HDL-64E: up to ~120 m
        assert -5 < np.median(cloud.xyz[:, 2]) < 1  # sensor ~1.73 m above the road


def test_nuscenes_lidar_pcd_bin(real_data: Path) -> None:
    path = real_data / NUSCENES_LIDAR
    cloud = read_point_cloud(path)
    assert len(cloud) == path.stat().st_size // 20
    ring = cloud.fields["ring"]
    assert ring.dtype == np.uint16 and ring.max() <= 31 and len(np.unique(ring)) == 32
    inten = cloud.intensity
    assert inten is not None and inten.min() >= 0 and inten.max() <= 255 and inten.max() > 1
    assert np.isfinite(cloud.xyz).all() and np.linalg.norm(cloud.xyz, axis=1).max() < 150


def test_argoverse1_ply(real_data: Path) -> None:
    cloud = read_point_cloud(real_data / ARGO1_PLY)
    assert len(cloud) == 91_083
    assert np.isfinite(cloud.xyz).all()
    inten = cloud.intensity
    assert inten is not None and inten.min() >= 0 and inten.max() <= 255 and inten.std() > 1
    ln = cloud.fields["laser_number"]
    assert ln.dtype == np.uint16 and ln.max() <= 31 and len(np.unique(ln)) == 32


# --------------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------------
def _synthetic_cloud(organized: bool = False) -> PointCloud:
    rng = np.random.default_rng(7)
    rows, cols = (6, 5) if organized else (1, 30)
    n = rows * cols
    xyz = rng.normal(0, 20, (n, 3)).astype(np.float32)
    xyz[[3, 11]] = np.nan
    fields = {
        "intensity": rng.uniform(0, 255, n).astype(np.float32),
        "ring": rng.integers(0, 32, n).astype(np.uint16),
        "label": rng.integers(-5, 5, n).astype(np.int8),
        "t": rng.uniform(-0.1, 0.1, n),  # float64
        "id64": rng.integers(-(2**40), 2**40, n).astype(np.int64),
        "uv": rng.uniform(0, 1, (n, 2)).astype(np.float32),  # COUNT 2
        "rgb": rng.integers(0, 256, (n, 3)).astype(np.uint8),
        "alpha": rng.integers(0, 256, n).astype(np.uint8),
    }
    return PointCloud(xyz, fields, "lidar", None, (rows, cols) if organized else None)


@pytest.mark.parametrize("encoding", ["ascii", "binary", "binary_compressed"])
@pytest.mark.parametrize("organized", [False, True])
def test_write_pcd_round_trip(tmp_path: Path, encoding: str, organized: bool) -> None:
    cloud = _synthetic_cloud(organized)
    out = tmp_path / f"c_{encoding}.pcd"
    write_pcd(out, cloud, encoding=encoding, viewpoint=(1, 2, 3, 0, 0, 0, 1))  # type: ignore[arg-type]
    h = read_pcd_header(out)
    assert h.data == encoding and "rgba" in h.fields and "rgb" not in h.fields and h.counts[h.fields.index("uv")] == 2
    assert h.viewpoint == (1, 2, 3, 0, 0, 0, 1)
    back = read_point_cloud(out)
    _assert_clouds_equal(cloud, back)
    assert back.fields["id64"].dtype == np.int64 and back.fields["t"].dtype == np.float64


@pytest.mark.parametrize("encoding", ["ascii", "binary", "binary_compressed"])
def test_write_pcd_real_cloud_round_trip_and_open3d_reads_it(real_data: Path, tmp_path: Path, encoding: str) -> None:
    src = read_point_cloud(real_data / "pcd/pcl/milk_color.pcd")
    out = tmp_path / "milk.pcd"
    write_pcd(out, src, encoding=encoding)  # type: ignore[arg-type]
    _assert_clouds_equal(src, read_point_cloud(out))
    np.testing.assert_array_equal(_o3d_xyz(out).astype(np.float32), src.xyz)
    np.testing.assert_allclose(_o3d_rgb(out), src.fields["rgb"] / 255.0, atol=1e-6)


def test_write_pcd_empty_cloud(tmp_path: Path) -> None:
    empty = PointCloud(np.zeros((0, 3), np.float32), {"intensity": np.zeros(0, np.float32)})
    for enc in ("ascii", "binary", "binary_compressed"):
        write_pcd(tmp_path / f"e_{enc}.pcd", empty, encoding=enc)  # type: ignore[arg-type]
        back = read_point_cloud(tmp_path / f"e_{enc}.pcd")
        assert len(back) == 0 and "intensity" in back.fields


def test_write_bin_round_trips(tmp_path: Path) -> None:
    c = _synthetic_cloud()
    write_bin(tmp_path / "k.bin", c)
    k = read_point_cloud(tmp_path / "k.bin")
    np.testing.assert_array_equal(k.xyz, c.xyz)
    np.testing.assert_array_equal(k.fields["intensity"], c.fields["intensity"])
    assert set(k.fields) == {"intensity"}
    write_bin(tmp_path / "n.pcd.bin", c)
    n = read_point_cloud(tmp_path / "n.pcd.bin")
    assert (tmp_path / "n.pcd.bin").stat().st_size == 20 * len(c)
    np.testing.assert_array_equal(n.xyz, c.xyz)
    np.testing.assert_array_equal(n.fields["ring"], c.fields["ring"])


def test_write_bin_real_kitti_is_byte_identical(real_data: Path, tmp_path: Path) -> None:
    src = real_data / KITTI_OBJECT_BIN
    write_bin(tmp_path / "000001.bin", read_point_cloud(src))
    assert (tmp_path / "000001.bin").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("binary", [True, False])
def test_write_ply_round_trip(tmp_path: Path, binary: bool) -> None:
    c = _synthetic_cloud()
    fields = {k: v for k, v in c.fields.items() if k not in ("id64", "uv")}
    c = PointCloud(c.xyz, fields)
    write_ply(tmp_path / "c.ply", c, binary=binary)
    head = (tmp_path / "c.ply").read_bytes()[:200]
    assert (b"binary_little_endian" in head) == binary and (b"ascii" in head) != binary
    back = read_point_cloud(tmp_path / "c.ply")
    _assert_clouds_equal(c, back)


def test_write_ply_real_argoverse_round_trip(real_data: Path, tmp_path: Path) -> None:
    src = read_point_cloud(real_data / ARGO1_PLY)
    write_ply(tmp_path / "a.ply", src)
    _assert_clouds_equal(src, read_point_cloud(tmp_path / "a.ply"))
    with pytest.raises(ValueError, match="id64"):
        write_ply(tmp_path / "b.ply", _synthetic_cloud())


def test_big_endian_ply(tmp_path: Path) -> None:
    xyz = np.array([[1.5, -2.0, 3.25], [4.0, 5.0, -6.0]], dtype=">f4")
    header = (
        b"ply\nformat binary_big_endian 1.0\ncomment synthetic\nelement vertex 2\n"
        b"property float x\nproperty float y\nproperty float z\nproperty uchar intensity\n"
        b"property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    )
    rec = np.zeros(2, dtype=[("x", ">f4"), ("y", ">f4"), ("z", ">f4"), ("i", "u1"), ("c", "u1", (3,))])
    rec["x"], rec["y"], rec["z"] = xyz.T
    rec["i"] = [7, 200]
    rec["c"] = [[255, 0, 10], [1, 2, 3]]
    (tmp_path / "be.ply").write_bytes(header + rec.tobytes())
    c = read_point_cloud(tmp_path / "be.ply")
    np.testing.assert_array_equal(c.xyz, xyz.astype(np.float32))
    np.testing.assert_array_equal(c.fields["intensity"], [7, 200])
    np.testing.assert_array_equal(c.fields["rgb"], [[255, 0, 10], [1, 2, 3]])


def test_npy(tmp_path: Path) -> None:
    a = np.arange(25, dtype=np.float64).reshape(5, 5)
    np.save(tmp_path / "a.npy", a)
    c = read_point_cloud(tmp_path / "a.npy")
    np.testing.assert_array_equal(c.xyz, a[:, :3])
    np.testing.assert_array_equal(c.fields["intensity"], a[:, 3])
    np.testing.assert_array_equal(c.fields["field_4"], a[:, 4])
    s = np.zeros(3, dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), ("Ring", "u2")])
    s["x"] = [1, 2, 3]
    np.save(tmp_path / "s.npy", s)
    c2 = read_point_cloud(tmp_path / "s.npy")
    np.testing.assert_array_equal(c2.xyz[:, 0], [1, 2, 3])
    assert c2.fields["ring"].dtype == np.uint16
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CorruptFileError, match="o.npy"):
        read_point_cloud(tmp_path / "o.npy")
    np.save(tmp_path / "flat.npy", np.zeros(6))
    with pytest.raises(CorruptFileError, match=r"\(N, 3\+\)"):
        read_point_cloud(tmp_path / "flat.npy")


def test_ascii_pcd_with_float_packed_rgb_and_count(tmp_path: Path) -> None:
    # PCL's PointXYZRGB stores colour as an F4 whose bits are 0x00RRGGBB
    packed = np.array([0x00FF8040, 0x000A0B0C], dtype=np.uint32).view(np.float32)
    text = (
        "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z rgb hist\nSIZE 4 4 4 4 2\nTYPE F F F F I\n"
        "COUNT 1 1 1 1 3\nWIDTH 2\nHEIGHT 1\nPOINTS 2\nDATA ascii\n"
        f"1 2 3 {float(packed[0])!r} -1 0 7\n4 5 nan {float(packed[1])!r} 3 4 5\n"
    )
    (tmp_path / "a.pcd").write_text(text)
    c = read_point_cloud(tmp_path / "a.pcd")
    np.testing.assert_array_equal(c.fields["rgb"], [[255, 128, 64], [10, 11, 12]])
    np.testing.assert_array_equal(c.fields["hist"], [[-1, 0, 7], [3, 4, 5]])
    assert c.fields["hist"].dtype == np.int16
    assert np.isnan(c.xyz[1, 2]) and len(c.finite()) == 1


def test_long_header_read_in_chunks(tmp_path: Path) -> None:
    c = _synthetic_cloud()
    write_pcd(tmp_path / "c.pcd", c)
    data = (tmp_path / "c.pcd").read_bytes()
    long = b"".join(b"# comment line %05d ................................................\n" % i for i in range(400))
    (tmp_path / "long.pcd").write_bytes(long + data)
    assert len(long) > 20_000
    assert read_pcd_header(tmp_path / "long.pcd").points == len(c)
    _assert_clouds_equal(c, read_point_cloud(tmp_path / "long.pcd"))


# --------------------------------------------------------------------------------------------
# bad input -> typed errors naming the file
# --------------------------------------------------------------------------------------------
def _expect(exc: type[DataError], path: Path, match: str) -> None:
    with pytest.raises(exc, match=match) as info:
        read_point_cloud(path)
    assert info.value.path == path
    assert str(info.value).startswith(str(path))


def test_truncated_bin(real_data: Path, tmp_path: Path) -> None:
    data = (real_data / KITTI_OBJECT_BIN).read_bytes()
    (tmp_path / "000001.bin").write_bytes(data[:-6])
    _expect(CorruptFileError, tmp_path / "000001.bin", r"10 bytes left over")
    (tmp_path / "x.pcd.bin").write_bytes(data[: 20 * 100 + 3])
    _expect(CorruptFileError, tmp_path / "x.pcd.bin", r"20-byte record.*3 bytes left over")


def test_missing_file_and_unsupported_suffix(tmp_path: Path) -> None:
    _expect(DataError, tmp_path / "absent.pcd", "cannot read")
    (tmp_path / "c.xyz").write_text("1 2 3\n")
    _expect(UnsupportedFormatError, tmp_path / "c.xyz", "unsupported point-cloud file type '.xyz'")


HEADER = (
    "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\n"
    "WIDTH 4\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 4\nDATA binary\n"
)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda h: h.replace("FIELDS x y z intensity\n", ""), "no FIELDS line"),
        (lambda h: h.replace("DATA binary\n", ""), "DATA line is missing"),
        (lambda h: h.replace("POINTS 4", "POINTS 5"), r"POINTS 5 does not equal WIDTH x HEIGHT = 4 x 1"),
        (lambda h: h.replace("SIZE 4 4 4 4", "SIZE 4 4 4"), "FIELDS lists 4 fields but SIZE has 3"),
        (lambda h: h.replace("TYPE F F F F", "TYPE F F F Q"), "TYPE Q with SIZE 4 is not a valid"),
        (lambda h: h.replace("SIZE 4 4 4 4", "SIZE 4 4 4 3"), "TYPE F with SIZE 3"),
        (lambda h: h.replace("WIDTH 4", "WIDTH four"), "WIDTH must hold integers"),
        (lambda h: h.replace("HEIGHT 1\n", ""), "no HEIGHT line"),
        (lambda h: h.replace("DATA binary", "DATA zip"), "DATA must be one of"),
        (lambda h: h.replace("VIEWPOINT 0 0 0 1 0 0 0", "VIEWPOINT 0 0"), "VIEWPOINT needs 7 numbers"),
        (lambda h: h.replace("FIELDS x y z intensity", "FIELDS a b c intensity"), r"no scalar x/y/z field"),
    ],
)
def test_broken_pcd_header(tmp_path: Path, edit, match: str) -> None:  # type: ignore[no-untyped-def]
    body = np.arange(16, dtype="<f4").tobytes()
    path = tmp_path / "broken.pcd"
    path.write_bytes(edit(HEADER).encode() + body)
    _expect(CorruptFileError, path, match)


def test_pcd_data_shorter_than_declared(tmp_path: Path) -> None:
    path = tmp_path / "short.pcd"
    path.write_bytes(HEADER.encode() + np.arange(15, dtype="<f4").tobytes())
    _expect(CorruptFileError, path, r"binary PCD data is 60 bytes, header declares 4 points x 16 bytes = 64")
    ascii_path = tmp_path / "short_ascii.pcd"
    ascii_path.write_text(HEADER.replace("binary", "ascii") + "1 2 3 4\n5 6 7 8\n9 10 11 12\n")
    _expect(CorruptFileError, ascii_path, r"ascii PCD data holds 12 values, header declares 4 points x 4 values = 16")
    bad_value = tmp_path / "bad_value.pcd"
    bad_value.write_text(HEADER.replace("binary", "ascii").replace("TYPE F F F F", "TYPE F F F U") + "1 2 3 x\n" * 4)
    _expect(CorruptFileError, bad_value, r"field 'intensity'")


def test_binary_compressed_corruption(real_data: Path, tmp_path: Path) -> None:
    src = (real_data / "pcd/pcl/car6.pcd").read_bytes()
    h = read_pcd_header(real_data / "pcd/pcl/car6.pcd")
    off = h.data_offset
    csize, usize = struct.unpack_from("<II", src, off)
    assert usize == 10031 * 12

    def variant(name: str, data: bytes) -> Path:
        p = tmp_path / name
        p.write_bytes(data)
        return p

    huge = src[:off] + struct.pack("<II", csize + 10_000_000, usize) + src[off + 8 :]
    _expect(CorruptFileError, variant("huge.pcd", huge), r"compressed size says \d+ bytes but only \d+ follow")
    small = src[:off] + struct.pack("<II", csize // 2, usize) + src[off + 8 :]
    _expect(CorruptFileError, variant("small.pcd", small), "LZF data (does not decompress|decompresses to)")
    wrong_u = src[:off] + struct.pack("<II", csize, usize + 4) + src[off + 8 :]
    _expect(CorruptFileError, variant("wrong_u.pcd", wrong_u), r"uncompressed size \d+ != 10031 points x 12 bytes")
    garbage = src[: off + 8] + bytes([0xFF]) * csize
    _expect(CorruptFileError, variant("garbage.pcd", garbage), "LZF data")
    _expect(CorruptFileError, variant("cut.pcd", src[: off + 4]), "8-byte size header is missing")
    _expect(CorruptFileError, variant("trunc.pcd", src[: off + 8 + csize // 3]), "compressed size says")


def test_broken_ply(real_data: Path, tmp_path: Path) -> None:
    data = (real_data / ARGO1_PLY).read_bytes()
    (tmp_path / "t.ply").write_bytes(data[: len(data) // 2])
    _expect(CorruptFileError, tmp_path / "t.ply", "early end-of-file")
    (tmp_path / "h.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty flot x\n")
    _expect(CorruptFileError, tmp_path / "h.ply", "invalid PLY")
    (tmp_path / "nov.ply").write_bytes(b"ply\nformat ascii 1.0\nelement face 0\nproperty float a\nend_header\n")
    _expect(CorruptFileError, tmp_path / "nov.ply", "no 'vertex' element")


# --------------------------------------------------------------------------------------------
# nuScenes radar PCD
# --------------------------------------------------------------------------------------------
RADAR_STRUCT = struct.Struct("<fffbhfffffbbbbbbbb")  # 43 bytes, the nuScenes radar record


def _write_radar_pcd(path: Path, rows: list[tuple[float, ...]]) -> None:
    header = (
        "# .PCD v0.7 - Point Cloud Data file format\n"
        "VERSION 0.7\n"
        f"FIELDS {' '.join(NUSCENES_RADAR_FIELDS)}\n"
        "SIZE 4 4 4 1 2 4 4 4 4 4 1 1 1 1 1 1 1 1\n"
        "TYPE F F F I I F F F F F I I I I I I I I\n"
        "COUNT 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n"
        f"WIDTH {len(rows)}\n"
        "HEIGHT 1\n"
        "VIEWPOINT 0 0 0 1 0 0 0\n"
        f"POINTS {len(rows)}\n"
        "DATA binary\n"
    )
    path.write_bytes(header.encode() + b"".join(RADAR_STRUCT.pack(*r) for r in rows))


def _radar_row(x: float, y: float, vxc: float, vyc: float, rcs: float, ident: int) -> tuple[float, ...]:
    # x y z dyn_prop id rcs vx vy vx_comp vy_comp is_quality_valid ambig_state x_rms y_rms invalid_state pdh0 vx_rms vy_rms
    return (x, y, 0.0, 1, ident, rcs, vxc - 9.0, vyc + 1.0, vxc, vyc, 1, 3, 19, 19, 0, 1, 17, 3)


def test_radar_pcd(tmp_path: Path) -> None:
    assert RADAR_STRUCT.size == 43
    rows = [
        _radar_row(10.0, 0.0, 3.0, 0.0, 5.5, 0),  # straight ahead, moving away at 3 m/s
        _radar_row(0.0, 5.0, 3.0, 0.0, -2.0, 1),  # to the left, crossing: no radial component
        _radar_row(3.0, 4.0, 3.0, 4.0, 10.0, 2),  # radial, 5 m/s away
        _radar_row(30.0, -40.0, -3.0, 4.0, 0.0, 300),  # radial, 5 m/s towards
    ]
    path = tmp_path / "n008__RADAR_FRONT__1533151603555991.pcd"
    _write_radar_pcd(path, rows)
    det = read_radar_pcd(path, frame_id="RADAR_FRONT", timestamp_ns=9)
    assert len(det) == 4 and det.frame_id == "RADAR_FRONT" and det.timestamp_ns == 9
    np.testing.assert_allclose(det.xyz, [[10, 0, 0], [0, 5, 0], [3, 4, 0], [30, -40, 0]])
    np.testing.assert_allclose(det.radial_velocity, [3.0, 0.0, 5.0, -5.0], atol=1e-6)
    np.testing.assert_allclose(det.rcs, [5.5, -2.0, 10.0, 0.0])
    # the same file reads as a generic cloud with every field decoded at the right offset
    cloud = read_point_cloud(path)
    np.testing.assert_array_equal(cloud.fields["id"], [0, 1, 2, 300])
    assert cloud.fields["id"].dtype == np.int16 and cloud.fields["dyn_prop"].dtype == np.int8
    np.testing.assert_array_equal(cloud.fields["vy_rms"], [3, 3, 3, 3])
    np.testing.assert_allclose(cloud.fields["vx"], [-6.0, -6.0, -6.0, -12.0])
    # and opens as a one-frame recording with a radar stream
    rec = open_point_cloud_file(path)
    assert rec.reference == "RADAR_FRONT" and rec.streams["RADAR_FRONT"].kind == "radar"
    assert int(rec.timestamps_ns[0]) == 1533151603555991000
    f = rec.frame(0)
    np.testing.assert_allclose(f.radar["RADAR_FRONT"].radial_velocity, det.radial_velocity)
    write_pcd(tmp_path / "plain.pcd", _synthetic_cloud())
    with pytest.raises(CorruptFileError, match="not a nuScenes radar PCD"):
        read_radar_pcd(tmp_path / "plain.pcd")


# --------------------------------------------------------------------------------------------
# single-file recordings
# --------------------------------------------------------------------------------------------
def test_sniff(real_data: Path, tmp_path: Path) -> None:
    assert sniff(real_data / PCD_FILES[0]) and sniff(real_data / NUSCENES_LIDAR) and sniff(real_data / ARGO1_PLY)
    assert not sniff(real_data / "kitti/object/training/calib/000001.txt")
    assert not sniff(tmp_path / "missing.pcd")
    (tmp_path / "dir.pcd").mkdir()
    assert not sniff(tmp_path / "dir.pcd")


def test_names_and_stamps() -> None:
    assert sensor_and_timestamp_from_name("velodyne_vlp16_1673400472138016708.pcd") == (
        "velodyne_vlp16",
        1673400472138016708,
    )
    assert sensor_and_timestamp_from_name("x/n015-2018-07-24-11-22-45+0800__LIDAR_TOP__1532402927647951.pcd.bin") == (
        "LIDAR_TOP",
        1532402927647951000,
    )
    assert sensor_and_timestamp_from_name("000001.bin") == (None, 0)
    assert sensor_and_timestamp_from_name("d60558d2-d1aa__PC_315971347819783000.ply") == (None, 315971347819783000)


def test_open_point_cloud_file_nebula(real_data: Path) -> None:
    path = real_data / PCD_FILES[0]
    rec = open_point_cloud_file(path)
    assert isinstance(rec, PointCloudFileRecording)
    assert rec.format == "pointcloud" and len(rec) == 1 and rec.problems == []
    assert list(rec.streams) == ["velodyne_vlp16"] and rec.reference == "velodyne_vlp16"
    assert int(rec.timestamps_ns[0]) == 1673400472138016708
    assert rec.rig.T_ego_sensor("velodyne_vlp16").allclose(Transform.identity()) and not rec.rig.cameras
    frame = rec.frame(0)
    cloud = frame.lidar["velodyne_vlp16"]
    assert len(cloud) == 14_831 and cloud.timestamp_ns == 1673400472138016708 and cloud.frame_id == "velodyne_vlp16"
    assert frame.sensor_timestamps == {"velodyne_vlp16": 1673400472138016708}
    with pytest.raises(IndexError):
        rec.frame(1)


def test_open_point_cloud_file_kitti_and_dispatcher(real_data: Path, tmp_path: Path) -> None:
    from fusionlabel.io.open import open_recording

    rec = open_recording(real_data / KITTI_OBJECT_BIN, format="pointcloud")
    assert isinstance(rec, PointCloudFileRecording)
    assert rec.reference == "lidar" and int(rec.timestamps_ns[0]) == 0
    assert len(rec.frame(0).lidar["lidar"]) == 120_268
    with pytest.raises(UnsupportedFormatError):
        open_point_cloud_file(tmp_path / "a.txt")
    with pytest.raises(DataError, match="no such file"):
        open_point_cloud_file(tmp_path / "a.pcd")
    # a corrupt file opens (only its name is read) and fails when its frame is loaded
    (tmp_path / "bad.bin").write_bytes(b"\0" * 17)
    with pytest.raises(CorruptFileError, match="1 bytes left over"):
        open_point_cloud_file(tmp_path / "bad.bin").frame(0)
