"""Continental ARS548 / SRR520 YAML dumps (nebula decoder ground truth), on real data."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from fusionlabel.core.errors import CalibrationError, CorruptFileError, UnsupportedFormatError
from fusionlabel.io.open import open_recording
from fusionlabel.io.radar import (
    open_continental,
    read_continental_detections,
    read_continental_objects,
    sniff_continental_radar,
)

# sensor field of view, half-angles: ARS548 +-60 deg azimuth, SRR520 +-90 deg azimuth
FOV_AZ = {"ars548": math.radians(60.5), "srr520": math.radians(90.0)}


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _load(p: Path) -> dict:  # type: ignore[type-arg]
    with p.open("rb") as fh:
        return yaml.load(fh, Loader=_Loader)


def _dumps(real_data: Path, kind: str) -> list[Path]:
    files = sorted((real_data / "radar").glob(f"*{kind}.yaml"))
    assert files
    return files


def _stamp_from_name(p: Path) -> int:
    sec, nsec = re.search(r"_(\d{10})_(\d+)_", p.name).groups()  # type: ignore[union-attr]
    return int(sec) * 10**9 + int(nsec)


def test_detections_match_the_files(real_data: Path) -> None:
    for p in _dumps(real_data, "detection"):
        doc = _load(p)
        det = read_continental_detections(p)
        rows = doc["detections"]
        assert len(det) == len(rows) > 0
        assert (
            det.timestamp_ns
            == doc["header"]["stamp"]["sec"] * 10**9 + doc["header"]["stamp"]["nanosec"]
            == _stamp_from_name(p)
        )
        # the polar measurements come back out of the Cartesian points
        assert np.allclose(det.range, [r["range"] for r in rows], atol=1e-9)
        assert np.allclose(det.azimuth, [r["azimuth_angle"] for r in rows], atol=1e-9)
        assert np.allclose(det.radial_velocity, [r["range_rate"] for r in rows])
        assert np.allclose(det.rcs, [r["rcs"] for r in rows])
        assert np.all(det.range > 0)
        model = "ars548" if "ars548" in p.name else "srr520"
        assert det.frame_id.startswith(model)
        assert np.all(np.abs(det.azimuth) <= FOV_AZ[model])
        if model == "ars548":
            assert np.allclose(det.elevation, [r["elevation_angle"] for r in rows], atol=1e-9)
            assert np.all(np.abs(det.elevation) < math.radians(30)) and np.ptp(det.elevation) > 0.1
        else:
            assert np.all(det.elevation == 0.0)  # a 2D radar
        # a moving car (~7 m/s in the SRR520 header): a static world closes in at up to that speed
        assert np.all(np.abs(det.radial_velocity) < 60.0)


def test_open_continental(real_data: Path) -> None:
    for p in _dumps(real_data, "detection"):
        assert sniff_continental_radar(p)
        rec = open_continental(p)
        assert len(rec) == 1 and rec.format == "continental-radar"
        (name,) = rec.streams
        assert rec.streams[name].kind == "radar" and set(rec.rig.radars) == {name}
        f = rec.frame(0)
        assert f.timestamp_ns == _stamp_from_name(p) and len(f.radar[name]) > 0
        doc = _load(p)
        if "origin_pos" in doc:  # ARS548: the dump states where the radar is mounted
            o = doc["origin_pos"]
            assert np.allclose(rec.rig.T_ego_sensor(name).translation, [o["x"], o["y"], o["z"]])
            assert not rec.problems
        else:
            assert len(rec.problems) == 1 and isinstance(rec.problems[0], CalibrationError)
    near = open_recording(
        next(p for p in _dumps(real_data, "detection") if "near" in p.name), format="continental-radar"
    )
    assert near.reference == "srr520_near"


def test_objects(real_data: Path) -> None:
    for p in _dumps(real_data, "object"):
        assert sniff_continental_radar(p)
        doc = _load(p)
        obj = read_continental_objects(p)
        assert len(obj) == len(doc["objects"]) > 0
        assert obj.timestamp_ns == _stamp_from_name(p)
        assert obj.object_ids.tolist() == [o["object_id"] for o in doc["objects"]]
        assert len(set(obj.object_ids.tolist())) == len(obj)
        assert np.all((obj.existence >= 0) & (obj.existence <= 1))
        sized = np.isfinite(obj.length)
        assert sized.any() and np.all(obj.length[sized] > 0) and np.all(obj.width[sized] > 0)
        assert np.all(np.abs(obj.position[:, :2]) < 300)
        if obj.model == "ARS548":
            assert np.allclose(obj.position[:, 0], [o["position"]["x"] for o in doc["objects"]])
            assert np.allclose(obj.velocity[:, 1], [o["absolute_velocity"]["y"] for o in doc["objects"]])
        else:
            assert np.allclose(obj.position[:, 1], [o["dist_y"] for o in doc["objects"]])
            assert sized.sum() == sum(
                1 for o in doc["objects"] if o["box_valid"] and o["box_length"] > 0 and o["box_width"] > 0
            )
        # an object list is not a detection recording: the error says what to use
        with pytest.raises(UnsupportedFormatError, match="read_continental_objects"):
            open_continental(p)
        with pytest.raises(UnsupportedFormatError):
            read_continental_detections(p)


def test_not_a_dump(real_data: Path, tmp_path: Path) -> None:
    meta = real_data / "rosbag2" / "nebula_continental_ars548" / "1708578204" / "metadata.yaml"
    assert not sniff_continental_radar(meta)
    with pytest.raises(UnsupportedFormatError):
        read_continental_detections(meta)
    other = tmp_path / "config.yaml"
    other.write_text("header: 3\ndetections: []\n")
    assert not sniff_continental_radar(tmp_path / "missing.yaml")
    with pytest.raises(UnsupportedFormatError):
        read_continental_detections(other)
    broken = tmp_path / "broken.yaml"
    broken.write_text("header:\n  stamp: {sec: 1, nanosec: 2\ndetections: [")
    with pytest.raises(CorruptFileError):
        read_continental_detections(broken)


def test_malformed_detection_names_file_and_index(real_data: Path, tmp_path: Path) -> None:
    src = next(p for p in _dumps(real_data, "detection") if "ars548" in p.name)
    doc = _load(src)
    doc["detections"][5]["range"] = "far"
    bad = tmp_path / "bad_detection.yaml"
    bad.write_text(yaml.dump(doc, Dumper=_Dumper, sort_keys=False))
    assert sniff_continental_radar(bad)
    with pytest.raises(CorruptFileError) as ei:
        read_continental_detections(bad)
    assert ei.value.path == bad and "detection 5" in ei.value.reason
    del doc["detections"][7]["azimuth_angle"]
    doc["detections"][5]["range"] = 1.0
    bad.write_text(yaml.dump(doc, Dumper=_Dumper, sort_keys=False))
    with pytest.raises(CorruptFileError, match="detection 7"):
        read_continental_detections(bad)
    doc["detections"][7]["azimuth_angle"] = 0.1
    doc["header"]["stamp"]["nanosec"] = 1.5
    bad.write_text(yaml.dump(doc, Dumper=_Dumper, sort_keys=False))
    with pytest.raises(CorruptFileError, match="nanosec"):
        read_continental_detections(bad)
    # invalid flags: undecodable positions are dropped, not guessed
    doc["header"]["stamp"]["nanosec"] = 7
    doc["detections"][0]["invalid_distance"] = True
    doc["detections"][1]["invalid_range_rate"] = True
    bad.write_text(yaml.dump(doc, Dumper=_Dumper, sort_keys=False))
    det = read_continental_detections(bad)
    assert len(det) == len(doc["detections"]) - 1 and np.isnan(det.radial_velocity[0])
    assert det.timestamp_ns == doc["header"]["stamp"]["sec"] * 10**9 + 7
