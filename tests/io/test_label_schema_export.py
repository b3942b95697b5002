"""A label schema's attributes reach every format with a place for them: KITTI's occluded and
truncated columns, the nuScenes attribute table, OpenLABEL (per box, and per object for track
attributes); the CLI finds the schema beside the label file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera, Lidar, Rig
from fusionlabel.core.edits import add_box, set_attribute, set_track_attribute
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.transforms import Transform
from fusionlabel.io.label_formats import LabelContext, get_format
from fusionlabel.io.label_schema import default_schema, labels_for_export, track_attributes
from fusionlabel.io.nuscenes_taxonomy import nuscenes_attribute

R_EGO_CAM = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def _labels() -> tuple[LabelSet, int, int]:
    ls = LabelSet()
    car = cyc = 0
    for k in range(3):
        ls, car = add_box(
            ls, k, Boxes.from_array([[12 + 2 * k, 1, 0.8, 4.2, 1.8, 1.5, 0]]), "Car", track_id=car or None
        )
        ls, cyc = add_box(
            ls, k, Boxes.from_array([[15, -4 + k, 0.8, 1.8, 0.6, 1.7, 1.57]]), "Cyclist", track_id=cyc or None
        )
    ls, _ped = add_box(ls, 0, Boxes.from_array([[9, -2, 0.9, 0.6, 0.6, 1.75, 0]]), "Pedestrian")
    ls = set_attribute(ls, 0, car, "occlusion", "partly")
    ls = set_attribute(ls, 0, car, "truncation", 0.25)
    for k in range(3):  # moving at 20 m/s by its boxes, but the annotator says parked (say, a tow truck)
        ls = set_attribute(ls, k, car, "motion", "parked")
    ls = set_track_attribute(ls, cyc, "rider", "without_rider")
    return ls, car, cyc


def _ctx() -> LabelContext:
    cam = Camera(
        "image_02",
        K=[[700, 0, 620], [0, 700, 187], [0, 0, 1]],
        width=1242,
        height=375,
        T_ego_cam=Transform.from_rt(R_EGO_CAM, [0.3, 0, 1.6]),
    )
    rig = Rig({"image_02": cam}, {"lidar": Lidar("lidar", Transform.from_rt(np.eye(3), [0, 0, 1.7]))}, {})
    times = {k: 1_000_000_000 + k * 100_000_000 for k in range(3)}
    return LabelContext(name="schema-test", rig=rig, timestamps_ns=times, schema=default_schema())


def test_labels_for_export_maps_values_per_format() -> None:
    ls, car, cyc = _labels()
    s = default_schema()
    k = labels_for_export(ls, s, "kitti").get(0)
    a = k.attributes[int(np.flatnonzero(k.track_ids == car)[0])]
    assert a["occluded"] == 1 and a["truncated"] == 0.25 and a["occlusion"] == "partly"
    n = labels_for_export(ls, s, "nuscenes").get(2)
    a = n.attributes[int(np.flatnonzero(n.track_ids == car)[0])]
    assert a["attributes"] == ["vehicle.parked"]
    assert nuscenes_attribute("vehicle.car", "Car", 20.0, 20.0, a) == "vehicle.parked"  # wins over the speed rule
    assert labels_for_export(ls, s, "openlabel") is ls and labels_for_export(ls, None, "kitti") is ls
    assert track_attributes(ls, s) == {cyc: {"rider": "without_rider"}}


def test_kitti_export_writes_the_annotators_occlusion_and_truncation(tmp_path: Path) -> None:
    ls, car, _ = _labels()
    out = tmp_path / "0000.txt"
    get_format("kitti").write(out, ls, _ctx())
    rows = [line.split() for line in out.read_text().splitlines()]
    car_row = next(r for r in rows if r[0] == "0" and r[1] == str(car))
    assert float(car_row[3]) == pytest.approx(0.25) and int(car_row[4]) == 1
    # without the schema the geometry decides (the car is fully in view: not truncated)
    get_format("kitti").write(out, ls, replace(_ctx(), schema=None))
    rows = [line.split() for line in out.read_text().splitlines()]
    car_row = next(r for r in rows if r[0] == "0" and r[1] == str(car))
    assert float(car_row[3]) == pytest.approx(0.0)


def test_nuscenes_tables_carry_the_schema_attribute(tmp_path: Path) -> None:
    from fusionlabel.io.label_formats import NuScenesTablesFormat

    ls, _car, _ = _labels()
    fmt = NuScenesTablesFormat(identity_pose=True)
    fmt.write(tmp_path / "nu", ls, _ctx())
    root = tmp_path / "nu" / next(p.name for p in (tmp_path / "nu").iterdir() if p.name.startswith("v1.0"))
    names = {a["token"]: a["name"] for a in json.loads((root / "attribute.json").read_text())}
    anns = json.loads((root / "sample_annotation.json").read_text())
    cars = [a for a in anns if a["fusionlabel_attributes"].get("motion") == "parked"]
    assert len(cars) == 3 and all([names[t] for t in a["attribute_tokens"]] == ["vehicle.parked"] for a in cars)
    riders = [a for a in anns if a["fusionlabel_attributes"].get("rider") == "without_rider"]
    assert riders and all([names[t] for t in a["attribute_tokens"]] == ["cycle.without_rider"] for a in riders)


def test_openlabel_keeps_frame_attributes_per_box_and_track_attributes_per_object(tmp_path: Path) -> None:
    from fusionlabel.io.openlabel import read_openlabel

    ls, car, cyc = _labels()
    out = tmp_path / "l.openlabel.json"
    get_format("openlabel").write(out, ls, _ctx())  # validated against the official schema
    doc = json.loads(out.read_text())["openlabel"]
    assert doc["objects"][str(cyc)]["object_data"] == {"text": [{"name": "rider", "val": "without_rider"}]}
    back, _ = read_openlabel(out)
    fl = back.get(0)
    a = fl.attributes[int(np.flatnonzero(fl.track_ids == car)[0])]
    assert a["occlusion"] == "partly" and a["truncation"] == 0.25 and a["motion"] == "parked"


def test_cli_export_finds_the_schema_beside_the_labels_and_refuses_a_broken_one(tmp_path: Path) -> None:
    import subprocess
    import sys

    from fusionlabel.io.native_labels import write_labels

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fusionlabel.cli", *args], capture_output=True, text=True, timeout=120
        )

    ls, _car, _ = _labels()
    lp = tmp_path / "labels.json"
    write_labels(ls, lp)
    (tmp_path / "label_schema.yaml").write_text(
        "classes:\n  Car: {}\n  Cyclist: {}\n  Pedestrian: {}\nattributes:\n"
        "  motion:\n    type: enum\n    values: [moving, parked]\n    export: {nuscenes: {parked: vehicle.parked}}\n"
    )
    r = cli("export", "--format", "openlabel", str(lp), "--out", str(tmp_path / "o.json"))
    assert r.returncode == 0, r.stderr
    (tmp_path / "label_schema.yaml").write_text("classes:\n  Car: {colr: red}\n")
    r = cli("export", "--format", "openlabel", str(lp), "--out", str(tmp_path / "o2.json"))
    assert r.returncode != 0 and "label_schema.yaml: line 2" in r.stderr and not (tmp_path / "o2.json").exists()
