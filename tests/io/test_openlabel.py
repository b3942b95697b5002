"""OpenLABEL 1.0: the written file validates against the vendored official schema, follows the
cuboid encoding of the standard, keeps UIDs, attributes and times; bad files are refused."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.transforms import Transform
from fusionlabel.io.open import open_recording
from fusionlabel.io.openlabel import (
    decode_attributes,
    encode_attributes,
    labels_to_openlabel,
    openlabel_schema,
    openlabel_to_labels,
    read_openlabel,
    schema_error,
    write_openlabel,
)

SYNTH = Path(__file__).resolve().parents[2] / "sample_data" / "synth_seed0"


def _labels() -> LabelSet:
    b = Boxes.from_array([[5, 1, 0.8, 4.2, 1.8, 1.6, 0.5], [12, -3, 0.9, 0.6, 0.7, 1.8, -2.0]])
    attrs = (
        {"occluded": 1, "ratio": 0.25, "moving": True, "source": "human", "velocity": [1.5, -0.25], "misc": {"a": [1, 2]}},
        {"note": None, "flags": [True, False], "tags": ["x", "y"]},
    )
    f0 = FrameLabels(np.array([7, 42]), ("Car", "Pedestrian"), b, np.array([1.0, 0.5]), attrs)
    f2 = FrameLabels(np.array([7]), ("Van",), b[0], np.array([0.9]), ({},))
    return LabelSet({0: f0, 2: f2})


def test_schema_is_the_openlabel_1_0_schema() -> None:
    s = openlabel_schema()
    assert s["$id"] == "https://openlabel.asam.net/V1-0-0/schema#"
    assert s["definitions"]["metadata"]["properties"]["schema_version"]["enum"] == ["1.0.0"]
    import jsonschema

    jsonschema.Draft7Validator.check_schema(s)  # a valid draft-7 schema


def test_document_structure_and_cuboid_encoding() -> None:
    labels = _labels()
    rig_rec = open_recording(SYNTH)
    poses = {0: Transform.from_yaw(0.3, (100.0, 5.0, 0.0)), 2: Transform.from_yaw(0.4, (101.0, 5.0, 0.0))}
    d = labels_to_openlabel(labels, {0: 1_700_000_000_123_456_789, 2: 1_700_000_000_323_456_789}, rig_rec.rig, poses)
    assert schema_error(d) is None
    ol = d["openlabel"]
    assert ol["metadata"]["schema_version"] == "1.0.0"
    assert set(ol["objects"]) == {"7", "42"}  # persistent UIDs: the track ids
    assert ol["objects"]["7"]["frame_intervals"] == [{"frame_start": 0, "frame_end": 0}, {"frame_start": 2, "frame_end": 2}]
    assert ol["objects"]["7"]["type"] == "Car"
    cub = ol["frames"]["0"]["objects"]["7"]["object_data"]["cuboid"][0]
    x, y, z, qx, qy, qz, qw, sx, sy, sz = cub["val"]
    assert cub["coordinate_system"] == "ego"
    assert (x, y, z) == (5, 1, 0.8) and (sx, sy, sz) == (4.2, 1.8, 1.6)  # sx = length along the box x axis
    assert (qx, qy) == (0, 0) and math.isclose(qz, math.sin(0.25)) and math.isclose(qw, math.cos(0.25))
    # the category change of track 7 in frame 2 travels as per-frame text
    assert ol["frames"]["2"]["objects"]["7"]["object_data"]["text"] == [{"name": "category", "val": "Van"}]
    props = ol["frames"]["0"]["frame_properties"]
    assert props["timestamp_ns"] == 1_700_000_000_123_456_789
    T = np.array(props["transforms"]["ego_to_odom"]["transform_src_to_dst"]["matrix4x4"]).reshape(4, 4)
    assert np.allclose(T, poses[0].matrix)
    assert set(rig_rec.rig.cameras) <= set(ol["streams"]) and ol["coordinate_systems"]["ego"]["parent"] == "odom"
    cam = next(iter(rig_rec.rig.cameras.values()))
    P = ol["streams"][cam.name]["stream_properties"]["intrinsics_pinhole"]["camera_matrix"]
    assert np.allclose(np.array(P).reshape(3, 4)[:, :3], cam.K)


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    labels = _labels()
    times = {0: 1_700_000_000_123_456_789, 2: 1_700_000_000_323_456_789}
    p = tmp_path / "l.json"
    write_openlabel(p, labels, times)
    back, t = read_openlabel(p)
    assert t == times  # exact nanoseconds, not float seconds
    for k in (0, 2):
        a, b = labels.get(k), back.get(k)
        assert a.track_ids.tolist() == b.track_ids.tolist() and a.categories == b.categories
        assert np.allclose(a.boxes.to_array(), b.boxes.to_array(), atol=1e-12)
        assert a.attributes == b.attributes and np.array_equal(a.scores, b.scores)
    assert isinstance(back.get(0).attributes[0]["occluded"], int)


def test_attribute_encoding_is_schema_typed() -> None:
    enc = encode_attributes({"b": True, "n": 3, "f": 0.5, "t": "x", "v": [1, "a"], "j": {"k": None}})
    assert [e["name"] for e in enc["boolean"]] == ["b"] and [e["name"] for e in enc["num"]] == ["n", "f"]
    assert enc["vec"] == [{"name": "v", "val": [1, "a"]}]
    assert enc["text"][1] == {"name": "j", "val": '{"k": null}', "encoding": "json"}
    assert decode_attributes(enc) == {"b": True, "n": 3, "f": 0.5, "t": "x", "v": [1, "a"], "j": {"k": None}}
    with pytest.raises(ValueError, match="not finite"):
        encode_attributes({"x": float("nan")})


def test_real_synthetic_file_validates(tmp_path: Path) -> None:
    rec = open_recording(SYNTH)
    labels = rec.labels()
    assert labels is not None
    p = tmp_path / "synth.json"
    write_openlabel(p, labels, {k: int(t) for k, t in enumerate(rec.timestamps_ns)}, rec.rig)
    d = json.loads(p.read_text())
    assert schema_error(d) is None
    assert len(d["openlabel"]["objects"]) == len(labels.track_ids())


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["openlabel"].pop("metadata"), "openlabel: must contain ['metadata']"),
        (lambda d: d["openlabel"]["metadata"].update(schema_version="0.9"), "metadata/schema_version"),
        (lambda d: d["openlabel"]["objects"]["7"].pop("type"), "objects/7: must contain ['type']"),
        (lambda d: d["openlabel"]["frames"]["0"].update(bogus=1), "frames/0: must not contain {'bogus'}"),
        (lambda d: d["openlabel"]["objects"].update({"not a uid": {"name": "x", "type": "Car"}}), "objects"),
    ],
)
def test_schema_invalid_files_are_refused(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    d = labels_to_openlabel(_labels(), {0: 0, 2: 1})
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(CorruptFileError) as ei:
        read_openlabel(p)
    assert str(ei.value).startswith(f"{p}: not valid OpenLABEL 1.0.0: ")
    assert message in str(ei.value)


def test_uninterpretable_content_is_refused(tmp_path: Path) -> None:
    d = labels_to_openlabel(_labels(), {0: 0, 2: 1})
    cub = d["openlabel"]["frames"]["0"]["objects"]["7"]["object_data"]["cuboid"][0]
    cub["coordinate_system"] = "odom"
    with pytest.raises(CorruptFileError, match="frames/0/objects/7: cuboid in coordinate system 'odom'"):
        openlabel_to_labels(d, tmp_path / "x.json")
    cub["coordinate_system"] = "ego"
    cub["val"][3:7] = [0, 0, 0, 0]
    with pytest.raises(CorruptFileError, match="zero quaternion"):
        openlabel_to_labels(d, tmp_path / "x.json")
    p = tmp_path / "t.json"
    p.write_bytes(b"\xff\xfe")
    with pytest.raises(CorruptFileError, match="not UTF-8"):
        read_openlabel(p)


def test_foreign_file_with_uuids_and_euler_cuboids(tmp_path: Path) -> None:
    uid = "0f8f1d6c-3b1e-4c2a-9d4e-1a2b3c4d5e6f"
    d = {
        "openlabel": {
            "metadata": {"schema_version": "1.0.0"},
            "objects": {uid: {"name": "car", "type": "Car"}},
            "frames": {
                "3": {
                    "frame_properties": {"timestamp": 12.5},
                    "objects": {uid: {"object_data": {"cuboid": [{"name": "c", "val": [1, 2, 3, 0, 0, 0.5, 4, 2, 1.5]}]}}},
                }
            },
        }
    }
    labels, t = openlabel_to_labels(d)
    fl = labels.get(3)
    assert fl.track_ids.tolist() == [1] and t == {3: 12_500_000_000}
    assert np.allclose(fl.boxes.to_array(), [[1, 2, 3, 4, 2, 1.5, 0.5]])
