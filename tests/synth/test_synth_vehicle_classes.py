"""``vehicle_classes=True``: vans, trucks and buses, moving and parked, for six-class detectors.

The option is opt-in: off, every seed must draw exactly what it drew before the option existed
(many tests and benchmarks depend on exact synthetic seeds), so these tests also check that the
default path never reads it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes, bev_iou, points_in_boxes
from fusionlabel.core.points import lidar_points_ego
from fusionlabel.core.size_priors import size_class
from fusionlabel.io.open import open_recording
from fusionlabel.synth import generate, make_scenario
from fusionlabel.synth.generate import LIDAR_MOUNT, scenario_of
from fusionlabel.synth.geometry import actor_parts

#: seeds whose first 40 frames pass a bus, moving trucks and vans (13: an overtaking and a
#: crossing bus; 22: an oncoming bus and a parked one)
SEEDS = (13, 22)
FRAMES = 40
BIG = ("Van", "Truck", "Bus")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _inside_prior(category: str, size) -> bool:
    sc = size_class(category)
    assert sc is not None
    return all(lo <= float(v) <= hi for v, (lo, hi) in zip(size, (sc.length, sc.width, sc.height)))


@pytest.fixture(scope="module")
def recs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("synth_vc")
    return {
        s: generate(root / f"s{s}", frames=FRAMES, seed=s, vehicle_classes=True, image_size=(160, 90)) for s in SEEDS
    }


def test_labels_hold_vans_trucks_and_buses_seen_by_the_lidar(recs: dict[int, Path]) -> None:
    moving_seen: set[str] = set()
    for seed, path in recs.items():
        rec = open_recording(path)
        assert rec.problems == []
        cats = {a.track_id: a.category for a in scenario_of(FRAMES, seed, vehicle_classes=True).actors}
        with_points: Counter[str] = Counter()
        for k in (0, FRAMES // 2, FRAMES - 1):  # the counts are exact (as for the default classes)
            fl = rec.labels.get(k)
            xyz = lidar_points_ego(rec.frame(k), rec.rig).xyz
            counts = points_in_boxes(xyz, fl.boxes).sum(axis=0)
            assert counts.tolist() == [a["num_lidar_points"] for a in fl.attributes]
        for k in rec.labels:
            fl = rec.labels.get(k)
            arr = fl.boxes.to_array()
            for j, (tid, cat) in enumerate(zip(fl.track_ids, fl.categories)):
                assert cat == cats[int(tid)]  # the label's class is the actor's category
                if cat in BIG:
                    assert _inside_prior(cat, arr[j, 3:6]), (seed, cat, arr[j, 3:6])
                if fl.attributes[j]["num_lidar_points"] > 0:
                    with_points[cat] += 1
                    if fl.attributes[j]["role"] != "parked":
                        moving_seen.add(cat)
        assert all(with_points[c] > 0 for c in BIG), (seed, with_points)
    assert moving_seen >= set(BIG)


def test_the_option_is_recorded_and_reproduces(recs: dict[int, Path], tmp_path: Path) -> None:
    path = recs[SEEDS[0]]
    args = json.loads((path / "synth.json").read_text())["arguments"]
    assert args["vehicle_classes"] is True
    again = generate(tmp_path / path.name, **{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()})
    a, b = _files(path), _files(again)
    assert a.keys() == b.keys() and all(a[n] == b[n] for n in a)


@pytest.mark.parametrize("seed", [0, 3, 7, 100, 101])
def test_scenarios_draw_the_vehicle_mix_with_sizes_shapes_and_room(seed: int) -> None:
    times = np.arange(FRAMES) / 10.0
    sc = make_scenario(seed, times, LIDAR_MOUNT, vehicle_classes=True)
    assert {a.category for a in sc.actors} <= {"Car", "Van", "Truck", "Bus", "Pedestrian", "Cyclist"}
    assert any(a.role == "behind_truck" for a in sc.actors)  # the designed occlusion is kept
    assert any(a.parked and a.category != "Car" and a.category != "Truck" for a in sc.actors)
    for a in sc.actors:
        if a.category in BIG:
            assert _inside_prior(a.category, a.size), (a.category, a.size)
        if a.category in ("Truck", "Bus"):
            assert a.role != "turning"
        l, w, h = a.size
        for cx, cy, z0, pl, pw, ph, *_ in actor_parts(a, 0.7):
            assert abs(cx) + pl / 2 <= l / 2 + 1e-9 and abs(cy) + pw / 2 <= w / 2 + 1e-9, (a.category, cx, pl)
            assert 0.0 <= z0 and z0 + ph <= h + 1e-9, (a.category, z0, ph)
    for t in np.linspace(0.0, times[-1], 6):
        b = Boxes.from_array(np.array([a.box(float(t)) for a in sc.actors]))
        iou = bev_iou(b, b)
        np.fill_diagonal(iou, 0.0)
        assert iou.max() == 0.0


def test_the_mix_over_seeds_has_every_class_moving_and_parked() -> None:
    times = np.arange(FRAMES) / 10.0
    seen: dict[bool, Counter[str]] = defaultdict(Counter)
    for seed in range(12):
        for a in make_scenario(seed, times, LIDAR_MOUNT, vehicle_classes=True).actors:
            seen[a.parked][a.category] += 1
    for parked in (False, True):
        assert all(seen[parked][c] > 0 for c in BIG), seen[parked]
        assert seen[parked]["Car"] > sum(seen[parked][c] for c in BIG)


def _fingerprint(scenario) -> str:
    """A hash of everything a scenario drew, floats to 9 significant digits."""
    import dataclasses
    import hashlib

    def flat(x) -> str:
        if dataclasses.is_dataclass(x):
            return flat(dataclasses.astuple(x))
        if isinstance(x, (list, tuple)):
            return "(" + ",".join(flat(v) for v in x) + ")"
        if isinstance(x, np.ndarray):
            return flat(x.tolist())
        return f"{x:.9g}" if isinstance(x, float) else repr(x)

    sc = scenario
    return hashlib.sha256(flat([sc.actors, sc.ego, sc.structures, sc.T_world_road.matrix, sc.sun]).encode()).hexdigest()


#: what make_scenario(seed, 40 frames at 10 Hz) drew before the option existed (computed at commit
#: b3c2364 with the same fingerprint): the option off must draw exactly that
BEFORE = {0: "272b109391e0b3c4", 5: "d570fd69fb61eae4", 12345: "72de0cddf8d22daa"}


@pytest.mark.parametrize("seed", [0, 5, 12345])
def test_option_off_draws_exactly_the_default(seed: int) -> None:
    times = np.arange(FRAMES) / 10.0
    off = make_scenario(seed, times, (1.3, 0.0, 1.84))
    assert _fingerprint(off)[:16] == BEFORE[seed]
    assert {a.category for a in off.actors} <= {"Car", "Truck", "Pedestrian", "Cyclist"}
    assert all(a.category != "Truck" for a in off.agents)
    on = make_scenario(seed, times, (1.3, 0.0, 1.84), vehicle_classes=True)
    assert on.ego == off.ego and on.structures == off.structures  # drawn before the vehicles
    assert on.actors != off.actors
