"""OpenLABEL 1.0: the written file validates against the vendored official schema, follows the
cuboid encoding of the standard, keeps UIDs, attributes and times; bad files are refused."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

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
        {
            "occluded": 1,
            "ratio": 0.25,
            "moving": True,
            "source": "human",
            "velocity": [1.5, -0.25],
            "misc": {"a": [1, 2]},
        },
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
    assert ol["objects"]["7"]["frame_intervals"] == [
        {"frame_start": 0, "frame_end": 0},
        {"frame_start": 2, "frame_end": 2},
    ]
    assert ol["objects"]["7"]["type"] == "Car"
    cub = ol["frames"]["0"]["objects"]["7"]["object_data"]["cuboid"][0]
    x, y, z, qx, qy, qz, qw, sx, sy, sz = cub["val"]
    assert cub["coordinate_system"] == "vehicle-iso8855"
    assert (x, y, z) == (5, 1, 0.8) and (sx, sy, sz) == (4.2, 1.8, 1.6)  # sx = length along the box x axis
    assert (qx, qy) == (0, 0) and math.isclose(qz, math.sin(0.25)) and math.isclose(qw, math.cos(0.25))
    # the category change of track 7 in frame 2 travels as per-frame text
    assert ol["frames"]["2"]["objects"]["7"]["object_data"]["text"] == [{"name": "category", "val": "Van"}]
    props = ol["frames"]["0"]["frame_properties"]
    assert props["timestamp_ns"] == 1_700_000_000_123_456_789
    tr = props["transforms"]["vehicle-iso8855_to_odom"]
    assert (tr["src"], tr["dst"]) == ("vehicle-iso8855", "odom")
    T = np.array(tr["transform_src_to_dst"]["matrix4x4"]).reshape(4, 4)
    assert np.allclose(T, poses[0].matrix)
    css = ol["coordinate_systems"]
    assert set(rig_rec.rig.cameras) <= set(ol["streams"]) and css["vehicle-iso8855"]["parent"] == "odom"
    assert css["odom"]["children"] == ["vehicle-iso8855"] and "pose_wrt_parent" not in css["vehicle-iso8855"]
    assert css["vehicle-iso8855"]["children"] == rig_rec.rig.sensor_names
    for n in rig_rec.rig.sensor_names:  # a proper tree: each sensor a child with its extrinsic
        assert css[n]["parent"] == "vehicle-iso8855" and css[n]["children"] == []
        M = np.array(css[n]["pose_wrt_parent"]["matrix4x4"]).reshape(4, 4)
        assert np.allclose(M, rig_rec.rig.T_ego_sensor(n).matrix)
        assert ol["streams"][n]["uri"] == n and ol["streams"][n]["description"]
    cam = next(iter(rig_rec.rig.cameras.values()))
    intr = ol["streams"][cam.name]["stream_properties"]["intrinsics_pinhole"]
    for key in ("camera_matrix", "camera_matrix_3x4"):  # the schema's spelling and vcd's
        assert np.allclose(np.array(intr[key]).reshape(3, 4), np.hstack([cam.K, np.zeros((3, 1))]))
    assert intr["distortion_coeffs"] == intr["distortion_coeffs_1xN"] == [*cam.D.tolist(), 0.0][:5]
    assert (intr["width_px"], intr["height_px"]) == (cam.width, cam.height)


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
    labels = rec.labels
    assert labels is not None
    p = tmp_path / "synth.json"
    write_openlabel(p, labels, {k: int(t) for k, t in enumerate(rec.timestamps_ns)}, rec.rig)
    d = json.loads(p.read_text())
    assert schema_error(d) is None
    assert len(d["openlabel"]["objects"]) == len(labels.track_ids)


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
    cub["coordinate_system"] = "odom"  # no poses were written: no odom
    with pytest.raises(
        CorruptFileError,
        match="frames/0/objects/7: cuboid in coordinate system 'odom', which the file does not declare",
    ):
        openlabel_to_labels(d, tmp_path / "x.json")
    cub["coordinate_system"] = "vehicle-iso8855"
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
                    "objects": {
                        uid: {"object_data": {"cuboid": [{"name": "c", "val": [1, 2, 3, 0, 0, 0.5, 4, 2, 1.5]}]}}
                    },
                }
            },
        }
    }
    labels, t = openlabel_to_labels(d)
    fl = labels.get(3)
    assert fl.track_ids.tolist() == [1] and t == {3: 12_500_000_000}
    assert np.allclose(fl.boxes.to_array(), [[1, 2, 3, 4, 2, 1.5, 0.5]])


# -- import of any coordinate-system tree ---------------------------------------------------------
def _posed_doc() -> tuple[dict[str, Any], dict[int, Transform]]:
    poses = {0: Transform.from_yaw(0.3, (100.0, 5.0, 0.2)), 2: Transform.from_yaw(-1.2, (103.0, 6.0, 0.3))}
    rig = open_recording(SYNTH).rig
    return labels_to_openlabel(_labels(), {0: 0, 2: 1}, rig, poses), poses


def _move_cuboid(d: dict[str, Any], key: str, uid: str, cs: str, T_cs_ego: Transform) -> None:
    """Re-express one written cuboid in coordinate system ``cs``."""
    cub = d["openlabel"]["frames"][key]["objects"][uid]["object_data"]["cuboid"][0]
    v = cub["val"]
    c = T_cs_ego.apply(np.array([v[0:3]]))[0]
    yaw = math.atan2(2 * v[5] * v[6], 1 - 2 * v[5] ** 2)  # upright: q = (0, 0, sin(y/2), cos(y/2))
    q = Transform.from_rt(T_cs_ego.rotation @ Transform.from_yaw(yaw).rotation, [0, 0, 0]).quaternion
    cub["val"] = [*c.tolist(), q.x, q.y, q.z, q.w, *v[7:10]]
    cub["coordinate_system"] = cs


def test_import_walks_the_tree_to_the_ego_frame() -> None:
    """Cuboids in the world (per-frame pose), in a sensor (static pose) and in a sensor's child
    given as a quaternion pose all come back as the same ego boxes."""
    d, poses = _posed_doc()
    rig = open_recording(SYNTH).rig
    ol = d["openlabel"]
    T_ego_lidar = rig.T_ego_sensor("lidar_top")
    T_lidar_mount = Transform.from_rt(Transform.from_yaw(0.4).rotation, [0.3, -0.1, 0.2])
    w, x, y, z = T_lidar_mount.quaternion.elements
    ol["coordinate_systems"]["lidar_top"]["children"] = ["mount"]
    ol["coordinate_systems"]["mount"] = {
        "type": "local_cs",
        "parent": "lidar_top",
        "children": [],
        "pose_wrt_parent": {"quaternion": [x, y, z, w], "translation": T_lidar_mount.translation.tolist()},
    }
    _move_cuboid(d, "0", "7", "odom", poses[0])
    _move_cuboid(d, "0", "42", "mount", (T_ego_lidar @ T_lidar_mount).inverse())
    _move_cuboid(d, "2", "7", "lidar_top", T_ego_lidar.inverse())
    assert schema_error(d) is None
    back, _ = openlabel_to_labels(d)
    for k in (0, 2):
        assert np.allclose(back.get(k).boxes.to_array(), _labels().get(k).boxes.to_array(), atol=1e-9)


def test_import_reads_legacy_ego_files_and_a_named_ego() -> None:
    """Files of FusionLabel 0.1 call the ego frame ``ego``; other tools name theirs (``ego_cs``)."""
    d, _ = _posed_doc()
    text = json.dumps(d).replace('"vehicle-iso8855"', '"ego"').replace("vehicle-iso8855_to_odom", "ego_to_odom")
    back, _ = openlabel_to_labels(json.loads(text))
    assert np.allclose(back.get(0).boxes.to_array(), _labels().get(0).boxes.to_array(), atol=0)
    renamed = json.loads(json.dumps(d).replace('"vehicle-iso8855"', '"base_link"'))
    renamed["openlabel"]["coordinate_systems"]["base_link"]["type"] = "custom"
    with pytest.raises(CorruptFileError, match="no coordinate system is the vehicle's"):
        openlabel_to_labels(renamed, "r.json")
    back, _ = openlabel_to_labels(renamed, "r.json", ego_cs="base_link")
    assert np.allclose(back.get(2).boxes.to_array(), _labels().get(2).boxes.to_array(), atol=0)


def _nowhere(parent: str, pose: dict[str, Any] | None = None) -> dict[str, Any]:
    cs: dict[str, Any] = {"type": "local_cs", "parent": parent, "children": []}
    if pose is not None:
        cs["pose_wrt_parent"] = pose
    return cs


_EYE = {"matrix4x4": np.eye(4).reshape(-1).tolist()}


@pytest.mark.parametrize(
    "cs, message",
    [
        (None, "cuboid in coordinate system 'nowhere', which the file does not declare"),
        (_nowhere("attic", _EYE), "coordinate system 'nowhere' names parent 'attic', which the file does not declare"),
        (_nowhere("nowhere", _EYE), "coordinate systems form a cycle through 'nowhere'"),
        (_nowhere("", _EYE), "coordinate system 'nowhere' is not connected to 'vehicle-iso8855'"),
        (_nowhere("odom"), "no pose of coordinate system 'nowhere' with respect to its parent 'odom' in frame 0"),
        (
            _nowhere("odom", {"quaternion": [0, 0, 0, 0], "translation": [0, 0, 0]}),
            "pose of 'nowhere' with respect to 'odom': zero quaternion",
        ),
    ],
)
def test_broken_trees_are_refused_naming_file_and_coordinate_system(cs: dict[str, Any] | None, message: str) -> None:
    d, _ = _posed_doc()
    if cs is not None:
        d["openlabel"]["coordinate_systems"]["nowhere"] = cs
    _move_cuboid(d, "0", "7", "nowhere", Transform.identity())
    with pytest.raises(CorruptFileError) as ei:
        openlabel_to_labels(d, "x.json")
    assert str(ei.value).startswith("x.json: frames/0/objects/7: ") and message in str(ei.value)


def test_a_frame_without_the_vehicle_pose_is_refused_for_world_cuboids() -> None:
    """The vehicle moves in ``odom``: it has no static pose, so a world cuboid in a frame
    without the vehicle's pose cannot be placed."""
    d, poses = _posed_doc()
    _move_cuboid(d, "0", "7", "odom", poses[0])
    d["openlabel"]["frames"]["0"]["frame_properties"].pop("transforms")
    with pytest.raises(
        CorruptFileError,
        match=r"x\.json: frames/0/objects/7: no pose of coordinate system "
        r"'vehicle-iso8855' with respect to its parent 'odom' in frame 0",
    ):
        openlabel_to_labels(d, "x.json")
