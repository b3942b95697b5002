"""A point-cloud header's point count is checked both ways: data holding more points than the
header declares is refused (it used to keep the first N silently), as is data holding fewer."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.frames import PointCloud
from fusionlabel.io.pointcloud import read_point_cloud, write_pcd, write_ply

CLOUD = PointCloud(
    np.arange(30, dtype=np.float32).reshape(10, 3), {"intensity": np.linspace(0, 1, 10).astype(np.float32)}
)


def _lie(path: Path, pattern: bytes, value: int) -> Path:
    """A copy of ``path`` whose header declares ``value`` where ``pattern`` (a regex with one
    number group) matched."""
    data = path.read_bytes()
    head, sep, body = data.partition(b"DATA " if path.suffix == ".pcd" else b"end_header")
    head = re.sub(pattern, lambda m: m.group(0).replace(m.group(1), str(value).encode()), head)
    out = path.with_name("lying" + path.suffix)
    out.write_bytes(head + sep + body)
    return out


@pytest.mark.parametrize("encoding", ["binary", "ascii", "binary_compressed"])
@pytest.mark.parametrize("declared", [8, 12])
def test_pcd_header_counts_both_ways(tmp_path: Path, encoding: str, declared: int) -> None:
    p = tmp_path / "cloud.pcd"
    write_pcd(p, CLOUD, encoding=encoding)  # type: ignore[arg-type]
    assert len(read_point_cloud(p)) == 10
    lying = _lie(_lie(p, rb"WIDTH (\d+)", declared), rb"POINTS (\d+)", declared)
    with pytest.raises(CorruptFileError) as err:
        read_point_cloud(lying)
    assert err.value.path == lying and str(lying) in str(err.value)
    if encoding == "binary" and declared < 10:
        assert "beyond what the header declares" in err.value.reason


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("declared", [8, 12])
def test_ply_header_counts_both_ways(tmp_path: Path, binary: bool, declared: int) -> None:
    p = tmp_path / "cloud.ply"
    write_ply(p, CLOUD, binary=binary)
    assert len(read_point_cloud(p)) == 10
    lying = _lie(p, rb"element vertex (\d+)", declared)
    with pytest.raises(CorruptFileError) as err:
        read_point_cloud(lying)
    assert err.value.path == lying
    if declared < 10:
        assert "more data than its header declares" in err.value.reason


def test_npy_with_more_data_than_its_header_shape(tmp_path: Path) -> None:
    p = tmp_path / "cloud.npy"
    np.save(p, np.zeros((10, 4), np.float32))
    assert len(read_point_cloud(p)) == 10
    p.write_bytes(p.read_bytes() + np.zeros((2, 4), np.float32).tobytes())
    with pytest.raises(CorruptFileError, match="more than its header's shape"):
        read_point_cloud(p)


def test_real_pcl_files_padded_after_their_compressed_block_still_read(real_data: Path) -> None:
    """PCL's binary_compressed writer pads the file after the LZF block: that is not extra points."""
    for p in sorted((real_data / "pcd").rglob("*.pcd")):
        assert len(read_point_cloud(p)) > 0, p
