"""Bring your own model: the pillars network exported to ONNX gives the torch detector's boxes
(1e-4) on real and synthetic frames; models that break the contract are refused naming the file."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper

from fusionlabel.cli import main
from fusionlabel.core.atomic import file_sha256
from fusionlabel.core.points import lidar_points_ego
from fusionlabel.detect.onnx_detector import DEFAULT_MODEL, OnnxContractError, OnnxDetector
from fusionlabel.detect.pillars import DEFAULT_WEIGHTS, create
from fusionlabel.detect.registry import create_detector
from fusionlabel.io.open import open_recording
from tests.conftest import shared_dir

TOL = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fusionlabel.detect.pillars.export import export_onnx

    out = tmp_path_factory.mktemp("onnx") / "pillars.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_onnx(DEFAULT_WEIGHTS, out)
    return out


@pytest.fixture(scope="module")
def synth_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fusionlabel.synth import generate

    return generate(tmp_path_factory.mktemp("synth") / "rec", frames=2, seed=21, cameras=(), radar_rate_hz=0)


def _same(torch_det, onnx_det: OnnxDetector, xyz: np.ndarray) -> int:
    """Assert both detectors give the same boxes, scores and classes; returns how many.

    Rows pair up one to one: each ONNX detection with the unused torch one of the same class and a
    score within ``TOL`` whose box is closest (two peaks whose scores differ by ~1e-7 may come out
    in either order)."""
    d = torch_det.predict([xyz.astype(np.float32)])[0]
    o = onnx_det.run(xyz)
    assert len(o) == len(d.boxes)
    classes = [torch_det.config.classes[i] for i in d.labels]
    used = np.zeros(len(d.boxes), bool)
    ob = o.boxes.to_array()
    for i in range(len(o)):
        cand = np.flatnonzero(
            ~used & (np.abs(d.scores - o.scores[i]) <= TOL) & np.array([c == o.classes[i] for c in classes], bool)
        )
        assert len(cand), f"ONNX detection {i} ({o.classes[i]}, score {o.scores[i]:.6f}) has no torch twin"
        err = np.abs(d.boxes[cand] - ob[i]).max(axis=1)
        j = cand[int(np.argmin(err))]
        assert err.min() <= TOL, (i, err.min())
        used[j] = True
    assert np.all(np.diff(o.scores) <= TOL)  # the ONNX model's outputs come best first
    return len(o)


def _frames(real_data: Path | None, synth_rec: Path) -> list[np.ndarray]:
    clouds = []
    recs = [open_recording(synth_rec)]
    if real_data is not None:
        for p in ("kitti/object/training", "tri_dgp/test_scene/scene_01", "nuscenes"):
            if (real_data / p).exists():
                recs.append(open_recording(real_data / p))
    for rec in recs:
        clouds.append(lidar_points_ego(rec.frame(0), rec.rig).xyz)
    return clouds


def test_onnx_detections_match_torch_on_real_and_synthetic_frames(exported: Path, synth_rec: Path) -> None:
    real = shared_dir() / "real_data"
    torch_det = create(device="cpu", score_threshold=0.05)
    onnx_det = OnnxDetector(exported, score_threshold=0.05, device="cpu")
    clouds = _frames(real if real.is_dir() else None, synth_rec)
    counts = [_same(torch_det, onnx_det, xyz) for xyz in clouds]
    assert counts[0] > 0  # the synthetic frame has objects
    if real.is_dir():
        assert len(counts) == 4


def test_the_shipped_onnx_model_is_the_shipped_weights(synth_rec: Path) -> None:
    """weights/synth_v2.onnx is synth_v2.pt exported: regenerate it with `fusionlabel export-model`."""
    meta = json.loads(
        next(p.value for p in onnx.load(str(DEFAULT_MODEL)).metadata_props if p.key == "fusionlabel.source")
    )
    assert meta["sha256"] == file_sha256(DEFAULT_WEIGHTS)
    xyz = lidar_points_ego(open_recording(synth_rec).frame(1), open_recording(synth_rec).rig).xyz
    assert _same(create(device="cpu", score_threshold=0.1), OnnxDetector(DEFAULT_MODEL, score_threshold=0.1), xyz)


def test_registered_with_its_weights_hash(exported: Path) -> None:
    det = create_detector("onnx", {"weights": str(exported), "device": "cpu"})
    assert det.info.classes == ("Car", "Van", "Truck", "Bus", "Pedestrian", "Cyclist") and det.info.device == "cpu"
    assert det.info.version == f"{exported.name} sha256:{file_sha256(exported)[:12]}"
    assert len(det.run(np.zeros((0, 3)))) == 0


def _model(path: Path, outputs: list[tuple[str, int, list]], meta: dict[str, str] | None, in_shape=("n", 3)) -> Path:
    """A tiny ONNX model: ``points`` -> each output a constant of the given type and shape."""
    nodes, outs = [], []
    for name, dtype, value in outputs:
        arr = np.asarray(value, dtype=np.float32 if dtype == TensorProto.FLOAT else np.int64)
        nodes.append(
            helper.make_node(
                "Constant", [], [name], value=helper.make_tensor(name + "_v", dtype, arr.shape, arr.flatten().tolist())
            )
        )
        outs.append(helper.make_tensor_value_info(name, dtype, list(arr.shape)))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("points", TensorProto.FLOAT, list(in_shape))], outs
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    for k, v in (meta or {}).items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(m, str(path))
    return path


CLASSES = {"fusionlabel.classes": '["Car"]'}
GOOD = [
    ("boxes", TensorProto.FLOAT, [[10, 0, 0.8, 4, 2, 1.5, 0.1]]),
    ("scores", TensorProto.FLOAT, [0.9]),
    ("labels", TensorProto.INT64, [0]),
]


def test_a_model_meeting_the_contract_runs(tmp_path: Path) -> None:
    det = OnnxDetector(_model(tmp_path / "ok.onnx", GOOD, CLASSES), device="cpu")
    d = det.run(np.ones((5, 3)))
    assert list(d.classes) == ["Car"] and d.scores.tolist() == pytest.approx([0.9])


@pytest.mark.parametrize(
    "outputs, meta, in_shape, match",
    [
        (GOOD[:2], CLASSES, ("n", 3), "no output"),
        (GOOD, None, ("n", 3), "fusionlabel.classes"),
        (GOOD, {"fusionlabel.classes": "Car"}, ("n", 3), "not a JSON list"),
        (GOOD, CLASSES, ("n", 5), "columns"),
        (GOOD, CLASSES, ("n",), "shape"),
        ([GOOD[0], ("scores", TensorProto.INT64, [1]), GOOD[2]], CLASSES, ("n", 3), "'scores'"),
    ],
)
def test_models_breaking_the_contract_are_refused_naming_the_file(
    tmp_path: Path, outputs, meta, in_shape, match
) -> None:
    p = _model(tmp_path / "bad.onnx", outputs, meta, in_shape)
    with pytest.raises(OnnxContractError, match=match) as exc:
        OnnxDetector(p, device="cpu")
    assert exc.value.path == p


def test_outputs_breaking_the_contract_at_run_time_are_refused(tmp_path: Path) -> None:
    p = _model(
        tmp_path / "runtime.onnx",
        [
            ("boxes", TensorProto.FLOAT, [[10, 0, 0.8, 4, 2, 1.5, 0.1]]),
            ("scores", TensorProto.FLOAT, [0.9]),
            ("labels", TensorProto.INT64, [3]),
        ],
        CLASSES,
    )
    with pytest.raises(OnnxContractError, match="not a class index") as exc:
        OnnxDetector(p, device="cpu").run(np.ones((4, 3)))
    assert exc.value.path == p
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"garbage")
    with pytest.raises(OnnxContractError, match="not a readable ONNX model"):
        OnnxDetector(junk)


def test_export_model_and_prelabel_with_weights(tmp_path: Path, synth_rec: Path, capsys) -> None:
    model = tmp_path / "m.onnx"
    assert main(["export-model", "--out", str(model)]) == 0
    assert "boxes / scores / labels" in capsys.readouterr().out
    out = tmp_path / "pre"
    args = ["prelabel", str(synth_rec), "--detector", "onnx", "--weights", str(model), "--out", str(out), "-j", "1"]
    assert main(args) == 0
    rep = json.loads((out / synth_rec.name / "report.json").read_text())
    assert rep["config"]["detector"]["version"] == f"m.onnx sha256:{file_sha256(model)[:12]}"
    assert main(args) == 0  # same weights: resumed
    # another model file (another hash) is another configuration: refused without --overwrite
    other = _model(tmp_path / "other.onnx", GOOD, CLASSES)
    args[args.index(str(model))] = str(other)
    assert main(args) == 2
    assert main(["export-model", "--out", str(tmp_path / "x.onnx"), "--weights", str(tmp_path / "missing.pt")]) == 1
