"""The label schema (core model, YAML file with line numbers) and the class size priors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.edits import add_box, set_attribute, set_track_attribute, set_track_size
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.schema import SchemaError, schema_from_dict, validate_labels
from fusionlabel.core.size_priors import DEFAULT_CLASSES, SIZE_PRIORS, at_least_minimum, best_observed_size, size_class
from fusionlabel.io.label_schema import (
    DEFAULT_SCHEMA_YAML,
    default_schema,
    find_schema,
    parse_schema_text,
    read_schema,
    schema_to_yaml,
    write_schema_text,
)


def test_size_priors_have_one_owner_shared_with_the_detector() -> None:
    from fusionlabel.detect import geometric

    assert geometric.DEFAULT_CLASSES is DEFAULT_CLASSES and geometric.SizeClass is type(DEFAULT_CLASSES[0])
    names = [c.name for c in SIZE_PRIORS]
    from fusionlabel.core.labels import CATEGORIES

    assert set(CATEGORIES) <= set(names)
    for sc in SIZE_PRIORS:
        assert all(lo <= p <= hi for (lo, hi), p in zip((sc.length, sc.width, sc.height), sc.prior)), sc.name
    assert size_class("PEDESTRIAN").name == "Pedestrian" and size_class("Zeppelin") is None
    np.testing.assert_allclose(at_least_minimum([0.3, 0.3, 2.0], size_class("Car")), [3.2, 1.4, 2.0])


def test_best_observed_size_is_the_largest_well_covered_view() -> None:
    sizes = [[4.0, 1.7, 1.5], [4.8, 2.1, 1.8], [4.5, 1.8, 1.6], [6.0, 2.5, 2.0]]
    counts = [400, 30, 350, 2]  # the 4.8 m and 6 m views are sparse (far, or a bad fit)
    assert best_observed_size(sizes, counts).tolist() == [4.5, 1.8, 1.6]
    assert best_observed_size(sizes, [0, 0, 0, 0]).tolist() == [6.0, 2.5, 2.0]  # nothing covered: the largest
    with pytest.raises(ValueError):
        best_observed_size(np.zeros((0, 3)), [])


def test_default_schema_round_trips_through_yaml() -> None:
    s = default_schema()
    assert s.class_names[:2] == ("Car", "Van") and s.attribute("occlusion").values[0] == "visible"
    assert s.size_class("Car").prior == size_class("Car").prior
    back = parse_schema_text(schema_to_yaml(s))
    assert back.classes == s.classes and back.attributes == s.attributes
    assert "export" in DEFAULT_SCHEMA_YAML


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("classes:\n  Car: {colour: red}\n", 2, ["unknown key 'colour'", "did you mean 'color'"]),
        ("classes:\n  Car: {}\nattributes:\n  m:\n    type: enm\n", 5, ["type must be one of", "did you mean 'enum'"]),
        ("classes:\n  Car: {}\nattributes:\n  m: {type: enum}\n", 4, ["an enum needs a list of values"]),
        (
            "classes:\n  Car: {}\nattributes:\n  m: {type: enum, values: [a, b], default: c}\n",
            4,
            ["default 'c' is not one of"],
        ),
        ("classes:\n  Car: {}\nattributes:\n  m: {type: bool, classes: [Cr]}\n", 4, ["unknown class 'Cr'", "'Car'"]),
        (
            "classes:\n  Car: {}\nattributes:\n  m: {type: int, scope: trak}\n",
            4,
            ["scope must be frame or track", "'track'"],
        ),
        ("classes:\n  Blimp: {}\n", 2, ["not a built-in class: give its size"]),
        ("classes:\n  Car: {size: [4, 1.8]}\n", 2, ["three positive numbers"]),
        ("classes:\n  Car: {size: [4, 1.8, 1.5], min: [5, 1, 1]}\n", 2, ["min <= size <= max"]),
        ("classes:\n  Car: {}\nattributes:\n  state: {type: text}\n", 4, ["reserved"]),
        (
            "classes:\n  Car: {}\nattributes:\n  m:\n    type: enum\n    values: [a]\n    export: {nuscenes: {a: vehicle.parkd}}\n",
            7,
            ["not a nuScenes attribute", "vehicle.parked"],
        ),
        (
            "classes:\n  Car: {}\nattributes:\n  m: {type: float, export: {kitti: occlusion}}\n",
            4,
            ["KITTI has occluded and truncated"],
        ),
        ("version: 2\nclasses:\n  Car: {}\n", 1, ["version 2 is not supported"]),
        ("classes: [Car\n", 2, ["not valid YAML"]),
        ("classes:\n", None, ["names no classes"]),
    ],
)
def test_schema_mistakes_name_the_file_and_line(tmp_path: Path, text: str, line: int | None, words: list[str]) -> None:
    p = tmp_path / "label_schema.yaml"
    p.write_text(text)
    with pytest.raises(SchemaError) as e:
        read_schema(p)
    msg = str(e.value)
    assert msg.startswith(str(p)), msg
    if line is not None:
        assert e.value.line == line and f"line {line}:" in msg, msg
    for w in words:
        assert w in msg, msg


def test_attribute_values_are_checked_and_coerced() -> None:
    s = schema_from_dict(
        {
            "classes": {"Car": {}},
            "attributes": {
                "occluded": {"type": "enum", "values": [0, 1, 2, 3]},
                "speed": {"type": "float", "range": [0, 60]},
                "lane": {"type": "int"},
                "parked": {"type": "bool", "default": False},
                "note": {"type": "text"},
            },
        }
    )
    occ, speed, lane, parked = s.attribute("occluded"), s.attribute("speed"), s.attribute("lane"), s.attribute("parked")
    assert occ.coerce("2") == 2 and occ.check(True) is not None and occ.check("2") is not None
    assert speed.coerce("12.5") == 12.5 and "outside [0, 60]" in speed.check(99.0)
    with pytest.raises(ValueError, match="not a whole number"):
        lane.coerce("1.5")
    assert parked.coerce("yes") is True and s.defaults_for("Car") == {"parked": False}
    assert s.attribute("note").check(3) == "3 is not text"


def test_validate_labels_finds_classes_values_and_track_disagreements() -> None:
    s = schema_from_dict(
        {
            "classes": {"Car": {}, "Pedestrian": {}},
            "attributes": {
                "motion": {"type": "enum", "values": ["moving", "parked"]},
                "fleet": {"type": "text", "scope": "track"},
            },
        }
    )
    box = Boxes.from_array([[10, 0, 0.8, 4, 1.8, 1.5, 0]])
    ls, t = add_box(LabelSet(), 0, box, "Car")
    ls, _ = add_box(ls, 1, box, "Car", track_id=t)
    ls, u = add_box(ls, 0, Boxes.from_array([[20, 5, 0.8, 4, 1.8, 1.5, 0]]), "Carr")
    assert (
        validate_labels(s, ls)[0].text()
        == f"frame 1, track {u}: class 'Carr' is not in the schema (did you mean 'Car'?)"
    )
    ls = set_attribute(ls, 1, t, "motion", "flying")
    ls = set_track_attribute(ls, t, "fleet", "A")
    ls = set_attribute(ls, 1, t, "fleet", "B")
    texts = [i.text() for i in validate_labels(s, ls)]
    assert f"frame 2, track {t}: attribute 'motion': 'flying' is not one of ['moving', 'parked']" in texts
    assert f"frame 2, track {t}: track attribute 'fleet' is 'B' here but 'A' in frame 1" in texts
    assert ls.get(0).attributes[0]["state"] == "edited" and ls.get(0).attributes[0]["keyframe"] is True


def test_set_track_size_keeps_centres_headings_and_bottoms() -> None:
    ls, t = add_box(LabelSet(), 0, Boxes.from_array([[10, 0, 0.75, 3.0, 1.5, 1.5, 0.3]]), "Car")
    ls, _ = add_box(ls, 2, Boxes.from_array([[14, 1, 1.0, 4.5, 1.9, 2.0, 0.35]]), "Car", track_id=t)
    out = set_track_size(ls, t, [4.5, 1.9, 2.0])
    for k in (0, 2):
        a, b = ls.get(k).boxes, out.get(k).boxes
        np.testing.assert_allclose(b.size[0], [4.5, 1.9, 2.0])
        np.testing.assert_allclose(b.center[0, :2], a.center[0, :2])
        assert b.yaw[0] == a.yaw[0] and b.bottom_z[0] == pytest.approx(a.bottom_z[0])


def test_schema_file_is_found_and_written_only_when_valid(tmp_path: Path) -> None:
    assert find_schema([None, tmp_path]) is None
    p = tmp_path / "label_schema.yaml"
    with pytest.raises(SchemaError):
        write_schema_text(p, "classes:\n  Car: {colur: red}\n")
    assert not p.exists()
    s = write_schema_text(p, "classes:\n  Car: {}\n")
    assert s.source == p and find_schema([tmp_path / "nope", tmp_path]) == p
