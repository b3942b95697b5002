"""The learned ``pillars`` detector: network shapes, targets, decoding, training, checkpoints, API.

Everything runs on the CPU in a few seconds; CUDA paths are guarded by ``torch.cuda.is_available()``.
"""

from __future__ import annotations

import math
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fusionlabel.core.boxes import Boxes, bev_iou
from fusionlabel.core.errors import DataError
from fusionlabel.detect.api import validate_detections
from fusionlabel.detect.pillars import DEFAULT_WEIGHTS, create
from fusionlabel.detect.pillars.checkpoint import build_network, load_checkpoint, read_header, save_checkpoint
from fusionlabel.detect.pillars.config import PillarsConfig
from fusionlabel.detect.pillars.infer import PillarsDetector
from fusionlabel.detect.pillars.model import PillarNet
from fusionlabel.detect.pillars.targets import decode, encode_targets, gaussian_radius
from fusionlabel.detect.pillars.train import (
    TrainOptions,
    augment,
    losses,
    random_window,
    samples_from_recording,
    train_samples,
)
from fusionlabel.detect.registry import check_detector
from fusionlabel.detect.runner import DetectorRunner

#: the +-40 m, 3-class grid these tests were written for (the default grid is +-100 m, 6 classes)
CFG = PillarsConfig(classes=("Car", "Pedestrian", "Cyclist"), x_range=(-40.0, 40.0), y_range=(-40.0, 40.0))
#: a 48 m x 48 m grid: a third of the default's cost, for the training tests
SMALL = replace(CFG, x_range=(-24.0, 24.0), y_range=(-24.0, 24.0))


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a busy 2-core machine OpenMP spin-waiting makes 2 threads slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_rec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-frame synthetic recording with exact labels (LiDAR only)."""
    from fusionlabel.synth import generate

    return generate(tmp_path_factory.mktemp("synth") / "rec", frames=2, seed=7, cameras=(), radar_rate_hz=0)


@pytest.fixture(scope="module")
def overfit(tiny_rec: Path):
    """A network trained 40 steps on the 2 frames, no augmentation."""
    samples = samples_from_recording(tiny_rec, SMALL)
    inside = [np.all(np.abs(s.boxes[:, :2]) < 23.0, axis=1) for s in samples]
    assert len(samples) == 2 and all(m.sum() >= 3 for m in inside)
    opts = TrainOptions(epochs=40, batch_size=2, flip=False, rotation=0.0, scaling=0.0, lr=5e-3, seed=1, device="cpu")
    net, epoch_losses, steps, device = train_samples(samples, SMALL, opts)
    return samples, net, epoch_losses, steps, device


def _save_random(path: Path, config: PillarsConfig = CFG, meta: dict | None = None) -> PillarNet:
    torch.manual_seed(0)
    net = PillarNet(config).eval()
    save_checkpoint(path, net.state_dict(), config, meta or {"synthetic_only": True})
    return net


# -- network --------------------------------------------------------------------------------------
def test_forward_shapes_and_empty_frames() -> None:
    net = PillarNet(CFG).eval()
    rng = np.random.default_rng(0)
    pts = torch.from_numpy(rng.uniform([-45, -45, -1], [45, 45, 3], (5000, 3)).astype(np.float32))
    bidx = torch.from_numpy(np.repeat([0, 2], 2500))  # frame 1 of 3 has no point at all
    with torch.inference_mode():
        hm, reg = net(pts, bidx, 3)
        bev = net.pfn(pts, bidx, 3)
    H, W = CFG.out_shape
    assert hm.shape == (3, 3, H, W) and reg.shape == (3, 8, H, W)
    assert bev.shape == (3, CFG.pillar_channels, *CFG.grid_shape)
    assert torch.count_nonzero(bev[1]) == 0 and torch.count_nonzero(bev[0]) > 0
    vel = replace(CFG, velocity=True)
    with torch.inference_mode():
        _hm, reg_v = PillarNet(vel).eval()(pts, bidx, 3)
    assert reg_v.shape[1] == 10 == vel.box_code_size


def test_config_json_round_trip_and_validation() -> None:
    c = PillarsConfig(classes=("Car",), velocity=True)
    assert PillarsConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="unknown config field"):
        PillarsConfig.from_dict({**c.to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="divisible"):
        PillarsConfig(x_range=(-40.0, 40.4))
    default = PillarsConfig()
    assert default.classes == ("Car", "Van", "Truck", "Bus", "Pedestrian", "Cyclist")
    assert default.x_range == default.y_range == (-100.0, 100.0)  # 360 degrees out to 100 m


# -- targets and decoding -------------------------------------------------------------------------
def test_target_peak_at_centre_cell() -> None:
    boxes = np.array(
        [[10.3, -5.1, 0.8, 4.2, 1.8, 1.5, 0.3], [-20.1, 13.3, 1.0, 0.7, 0.6, 1.7, -2.0], [60, 0, 1, 4, 2, 1.5, 0]]
    )
    t = encode_targets(boxes, np.array([0, 1, 0]), CFG)
    s = CFG.cell_size
    for n, k in ((0, 0), (1, 1)):
        i = math.floor((boxes[n, 0] - CFG.x_range[0]) / s)
        j = math.floor((boxes[n, 1] - CFG.y_range[0]) / s)
        assert t.heatmap[k, j, i] == 1.0
        # the peak is the maximum of its neighbourhood and decays away from it
        assert t.heatmap[k, j, i + 1] < 1.0 and t.heatmap[k, j, i + 1] == pytest.approx(t.heatmap[k, j, i - 1])
        assert j * CFG.out_shape[1] + i in t.index.tolist()
    assert t.heatmap[2].max() == 0.0  # no cyclist
    assert len(t.index) == 2  # the box at x = 60 m is outside the grid
    assert (t.heatmap == 1.0).sum() == 2
    m = t.index.tolist().index(math.floor((-5.1 + 40) / s) * CFG.out_shape[1] + math.floor((10.3 + 40) / s))
    u = (10.3 + 40) / s
    assert t.reg[m] == pytest.approx(
        [
            u - math.floor(u),
            (-5.1 + 40) / s - math.floor((-5.1 + 40) / s),
            0.8,
            math.log(4.2),
            math.log(1.8),
            math.log(1.5),
            math.sin(0.3),
            math.cos(0.3),
        ],
        abs=1e-6,
    )
    assert gaussian_radius(4.2 / s, 1.8 / s) > gaussian_radius(0.7 / s, 0.6 / s) > 0


def test_a_box_cut_by_the_grid_border_draws_its_tail_but_no_peak() -> None:
    """An object whose centre lies just outside the grid (or a training window) still covers
    cells inside: they get its Gaussian's tail (below 1), not a background target; no peak, no
    regression. A box far outside draws nothing."""
    s = CFG.cell_size
    x_edge = CFG.x_range[1]
    just_out = np.array([[x_edge + 0.5 * s, 0.3, 0.8, 4.2, 1.8, 1.5, 0.0]])
    t = encode_targets(just_out, np.array([0]), CFG)
    assert len(t.index) == 0 and t.reg.shape[0] == 0
    j = math.floor((0.3 - CFG.y_range[0]) / s)
    edge = t.heatmap[0, j, -1]
    assert 0.0 < edge < 1.0 and t.heatmap.max() == edge  # the tail, strongest at the border cell
    assert t.heatmap[0, j, -2] < edge
    far = np.array([[x_edge + 30.0, 0.3, 0.8, 4.2, 1.8, 1.5, 0.0]])
    assert encode_targets(far, np.array([0]), CFG).heatmap.max() == 0.0
    # the same object inside the grid: a peak of 1 where the cut one has its tail
    inside = encode_targets(np.array([[x_edge - 0.5 * s, 0.3, 0.8, 4.2, 1.8, 1.5, 0.0]]), np.array([0]), CFG)
    assert inside.heatmap[0, j, -1] == 1.0 and len(inside.index) == 1


def test_decode_of_perfect_targets_recovers_boxes() -> None:
    rng = np.random.default_rng(3)
    n = 12
    boxes = np.column_stack(
        [
            rng.uniform(-38, 38, n),
            rng.uniform(-38, 38, n),
            rng.uniform(0.3, 1.5, n),
            rng.uniform(0.5, 5, n),
            rng.uniform(0.5, 2.2, n),
            rng.uniform(1.0, 2.0, n),
            rng.uniform(-3.1, 3.1, n),
        ]
    )
    labels = rng.integers(0, 3, n)
    t = encode_targets(boxes, labels, CFG)
    H, W = CFG.out_shape
    reg = np.zeros((1, CFG.box_code_size, H, W), np.float32)
    for m, idx in enumerate(t.index):
        reg[0, :, idx // W, idx % W] = t.reg[m]
    d = decode(torch.from_numpy(t.heatmap[None]), torch.from_numpy(reg), CFG, 0.99, 50, heatmap_is_prob=True)[0]
    assert len(d.boxes) == len(t.index)
    order = np.argsort(d.boxes[:, 0])
    ref = np.argsort(boxes[:, 0])
    np.testing.assert_allclose(d.boxes[order, :6], boxes[ref, :6], atol=1e-4)
    yaw_err = np.angle(np.exp(1j * (d.boxes[order, 6] - boxes[ref, 6])))
    assert np.abs(yaw_err).max() < 1e-5
    assert d.labels[order].tolist() == labels[ref].tolist()
    # logits: a peak of logit 0 (p = 0.5) is kept at threshold 0.4, dropped at 0.6
    logits = torch.full((1, 3, H, W), -10.0)
    logits[0, 1, 40, 30] = 0.0
    assert len(decode(logits, torch.zeros(1, 8, H, W), CFG, 0.4)[0].boxes) == 1
    assert len(decode(logits, torch.zeros(1, 8, H, W), CFG, 0.6)[0].boxes) == 0


def test_augmentation_keeps_points_in_their_boxes(tiny_rec: Path) -> None:
    from fusionlabel.core.boxes import points_in_boxes

    s = samples_from_recording(tiny_rec, CFG)[0]
    before = points_in_boxes(s.points[:, :3], Boxes.from_array(s.boxes)).sum(axis=0)
    a = augment(s, np.random.default_rng(5), TrainOptions(rotation=0.7, scaling=0.05))
    after = points_in_boxes(a.points[:, :3], Boxes.from_array(a.boxes)).sum(axis=0)
    assert not np.allclose(a.boxes[:, :2], s.boxes[:, :2])
    assert np.abs(after - before).max() <= 1  # float32 rounding at a face at most
    assert before.min() >= 5


# -- training -------------------------------------------------------------------------------------
def test_overfit_drives_loss_down_and_finds_training_boxes(overfit) -> None:
    samples, net, epoch_losses, steps, device = overfit
    assert steps == 40 and device == "cpu"
    assert epoch_losses[-1] < 0.25 * epoch_losses[0]
    det = PillarsDetector.from_network(net, SMALL, score_threshold=0.3)
    for s in samples:
        d = det.predict([s.points[:, :3]])[0]
        m = np.all(np.abs(s.boxes[:, :2]) < 23.0, axis=1)
        iou = bev_iou(Boxes.from_array(d.boxes), Boxes.from_array(s.boxes[m]))
        best = iou.argmax(axis=0)
        assert iou.max(axis=0).min() >= 0.5, iou.max(axis=0)
        assert d.labels[best].tolist() == s.labels[m].tolist()
        assert len(d.boxes) <= m.sum() + 2


def test_training_is_deterministic(tiny_rec: Path) -> None:
    samples = samples_from_recording(tiny_rec, SMALL)
    opts = TrainOptions(epochs=2, batch_size=1, seed=11, device="cpu")
    a = train_samples(samples, SMALL, opts)[0].state_dict()
    b = train_samples(samples, SMALL, opts)[0].state_dict()
    c = train_samples(samples, SMALL, TrainOptions(epochs=2, batch_size=1, seed=12, device="cpu"))[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_window_is_a_lattice_aligned_sub_grid() -> None:
    wide = PillarsConfig(x_range=(-100.0, 100.0), y_range=(-100.0, 100.0))
    step = wide.lattice_step
    assert step == pytest.approx(1.6)
    for x0, y0 in [(-30.0, 13.0), (-200.0, 95.0), (99.9, -100.0)]:
        w = wide.window(x0, y0, 80.0)
        (a, b), (c, d) = w.x_range, w.y_range
        assert b - a == pytest.approx(80.0) and d - c == pytest.approx(80.0)
        assert wide.x_range[0] <= a and b <= wide.x_range[1] and wide.y_range[0] <= c and d <= wide.y_range[1]
        for lo, full_lo in ((a, wide.x_range[0]), (c, wide.y_range[0])):
            k = (lo - full_lo) / step
            assert k == pytest.approx(round(k), abs=1e-6)
        assert w.grid_shape == (200, 200)
    assert CFG.window(-40.0, -40.0, 80.0) is CFG and CFG.window(0.0, 0.0, 120.0) is CFG
    # a window covering the grid draws nothing: training a +-40 m grid is what it was without windows
    rng = np.random.default_rng(3)
    assert random_window(CFG, 80.0, rng) is CFG and random_window(CFG, None, rng) is CFG
    assert rng.random() == np.random.default_rng(3).random()
    focus = np.array([[70.0, -60.0]])
    near = [random_window(wide, 40.0, np.random.default_rng(i), focus) for i in range(40)]
    hits = sum(w.x_range[0] <= 70.0 < w.x_range[1] and w.y_range[0] <= -60.0 < w.y_range[1] for w in near)
    assert hits >= 15  # half the windows are drawn around a focus point, each holds it


def test_a_window_sees_what_the_whole_grid_sees() -> None:
    """The network is fully convolutional and a window keeps the lattice: inside a window, away
    from its border, the outputs on the window equal those on the whole grid, so weights trained
    on windows serve the whole grid."""
    torch.manual_seed(0)
    wide = PillarsConfig(x_range=(-64.0, 64.0), y_range=(-64.0, 64.0))
    net = PillarNet(wide).eval()
    rng = np.random.default_rng(0)
    pts = torch.from_numpy(rng.uniform([-64, -64, -1], [64, 64, 3], (40000, 3)).astype(np.float32))
    bidx = torch.zeros(len(pts), dtype=torch.long)
    w = wide.window(3.0, -50.0, 48.0)
    with torch.inference_mode():
        hm_full, reg_full = net(pts, bidx, 1)
        hm_w, reg_w = net(pts, bidx, 1, w)
    cells = round(w.lattice_step / w.cell_size)
    i0 = round((w.x_range[0] - wide.x_range[0]) / w.cell_size)
    j0 = round((w.y_range[0] - wide.y_range[0]) / w.cell_size)
    H, W = w.out_shape
    m = 4 * cells  # the receptive field's reach into the window from its zero-padded border
    full = hm_full[0, :, j0 + m : j0 + H - m, i0 + m : i0 + W - m]
    assert torch.allclose(hm_w[0, :, m : H - m, m : W - m], full, atol=1e-4)
    assert torch.allclose(
        reg_w[0, :, m : H - m, m : W - m], reg_full[0, :, j0 + m : j0 + H - m, i0 + m : i0 + W - m], atol=1e-4
    )
    assert not torch.allclose(hm_w[0], hm_full[0, :, :H, :W], atol=1e-4)  # a different place, different output


def test_training_on_windows_is_deterministic_and_windows_span_the_grid(tiny_rec: Path) -> None:
    wide = PillarsConfig(x_range=(-64.0, 64.0), y_range=(-64.0, 64.0))
    for size in (4.8, 9.6, 36.8, 80.0):  # multiples of the 1.6 m lattice that divide a hair low in floats
        assert wide.window(0.0, 0.0, size).x_range[1] - wide.window(0.0, 0.0, size).x_range[0] == pytest.approx(size)
    rng = np.random.default_rng(0)
    drawn = [random_window(wide, 32.0, rng) for _ in range(300)]
    assert min(w.x_range[0] for w in drawn) == wide.x_range[0] and max(w.x_range[1] for w in drawn) == wide.x_range[1]
    assert min(w.y_range[0] for w in drawn) == wide.y_range[0] and max(w.y_range[1] for w in drawn) == wide.y_range[1]
    samples = samples_from_recording(tiny_rec, wide)
    opts = TrainOptions(epochs=2, batch_size=1, seed=5, device="cpu", window_m=32.0)
    a = train_samples(samples, wide, opts)[0].state_dict()
    b = train_samples(samples, wide, opts)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # deterministic with windows too
    with pytest.raises(ValueError, match="window_m"):
        TrainOptions(window_m=0.0)


def test_a_window_on_empty_ground_trains_on_the_whole_grid() -> None:
    """A window holding one point (a sparse sensor's far corner) cannot go through the point
    encoder's batch norm in training: the step falls back to the whole grid instead of failing."""
    from fusionlabel.detect.pillars.train import Sample, train_step

    wide = PillarsConfig(x_range=(-64.0, 64.0), y_range=(-64.0, 64.0))
    rng = np.random.default_rng(0)
    pts = np.vstack([rng.uniform([-10, -10, 0], [10, 10, 2], (500, 3)), [[60.0, 60.0, 1.0]]]).astype(np.float32)
    s = Sample(pts, np.array([[2.0, 1.0, 0.8, 4.0, 1.8, 1.5, 0.0]]), np.array([0]), np.zeros((1, 2)), "x#0")
    corner = wide.window(32.0, 32.0, 32.0)
    assert int(corner.inside(pts).sum()) == 1
    torch.manual_seed(0)
    net = PillarNet(wide).train()
    optim = torch.optim.AdamW(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda _: 1.0)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    loss = train_step(net, [s], wide, "cpu", optim, sched, scaler, net.parameters(), window=corner)
    assert math.isfinite(loss) and loss > 0


def test_losses_are_zero_free_and_finite_without_objects() -> None:
    net = PillarNet(CFG)
    hm, reg = net(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), 1)
    total, h, r = losses(hm, reg, torch.zeros_like(hm), torch.zeros(0, 2, dtype=torch.long), torch.zeros(0, 8))
    assert torch.isfinite(total.detach()) and float(r.detach()) == 0.0 and float(h.detach()) > 0
    total.backward()


# -- checkpoints ----------------------------------------------------------------------------------
def test_checkpoint_round_trip_with_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    net = _save_random(path, meta={"synthetic_only": True, "note": "x"})
    raw = torch.load(path, weights_only=True)  # plain types only
    assert raw["format"] == "fusionlabel.pillars" and set(raw["state_dict"]) == set(net.state_dict())
    config, state, meta = load_checkpoint(path)
    assert config == CFG and meta["note"] == "x"
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    net2, config2, _ = build_network(path)
    assert config2 == CFG
    pts = torch.from_numpy(np.random.default_rng(0).uniform([-30, -30, 0], [30, 30, 2], (3000, 3)).astype(np.float32))
    b = torch.zeros(3000, dtype=torch.long)
    with torch.inference_mode():
        for x, y in zip(net(pts, b, 1), net2(pts, b, 1)):
            assert torch.equal(x, y)
    assert read_header(path).config == CFG


def test_bad_checkpoints_raise_data_error_naming_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    _save_random(good)
    data = good.read_bytes()
    cases = {}
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    cases["truncated.pt"] = "not a readable torch checkpoint|cannot load"
    (tmp_path / "noise.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    cases["noise.pt"] = "not a readable torch checkpoint"
    torch.save({"state_dict": PillarNet(CFG).state_dict()}, tmp_path / "plain.pt")
    cases["plain.pt"] = "no fusionlabel.json header"
    # weights of the default network declared as a wider one
    wide = PillarsConfig(channels=(48, 64))
    save_checkpoint(tmp_path / "mismatch.pt", PillarNet(CFG).state_dict(), wide)
    cases["mismatch.pt"] = "weights do not match"
    # the good file carries the torch-free header
    with zipfile.ZipFile(good) as z:
        names = z.namelist()
    assert any(n.endswith("fusionlabel.json") for n in names)
    for name, pattern in cases.items():
        with pytest.raises(DataError, match=pattern) as exc:
            build_network(tmp_path / name)
        assert exc.value.path == tmp_path / name and str(tmp_path / name) in str(exc.value)
    with pytest.raises(DataError, match="no such checkpoint"):
        create(tmp_path / "absent.pt")


def test_checkpoint_meta_must_be_json(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "m.pt", PillarNet(CFG).state_dict(), CFG, {"bad": object()})
    assert not list(tmp_path.iterdir())  # nothing half-written


# -- the detector API -----------------------------------------------------------------------------
def test_create_is_light_and_passes_api_validation(tmp_path: Path, tiny_rec: Path) -> None:
    path = tmp_path / "m.pt"
    _save_random(path)  # CFG's classes
    code = (
        "import sys; from fusionlabel.detect.pillars import create; d = create(sys.argv[1]); i = d.info; "
        "assert 'torch' not in sys.modules, 'torch imported'; print(i.device, ','.join(i.classes))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["auto", "Car,Pedestrian,Cyclist"]

    det = create(path, device="cpu", score_threshold=0.0, max_objects=30)
    info = check_detector("pillars", det)
    assert info.classes == CFG.classes and "SYNTHETIC" in info.description
    from fusionlabel.io.open import open_recording

    rec = open_recording(tiny_rec)
    frames = [rec.frame(0), rec.frame(1)]
    runner = DetectorRunner(det, "pillars", timeout_s=60)
    results = runner.detect_many(frames, rec.rig, batch_size=2)
    assert all(r.ok for r in results)
    for r in results:
        d = validate_detections("pillars", r.detections, info.classes)
        assert len(d) == 30  # random weights: every top-K peak passes threshold 0
    assert det.info.device == "cpu"
    single = det.detect(frames[1], rec.rig)
    np.testing.assert_allclose(single.boxes.to_array(), results[1].detections.boxes.to_array(), atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_mixed_precision_matches_cpu(tmp_path: Path, tiny_rec: Path) -> None:  # pragma: no cover
    path = tmp_path / "m.pt"
    _save_random(path)
    from fusionlabel.io.open import open_recording

    rec = open_recording(tiny_rec)
    a = create(path, device="cpu", score_threshold=0.0, max_objects=10).detect(rec.frame(0), rec.rig)
    g = create(path, device="cuda", score_threshold=0.0, max_objects=10)
    b = g.detect(rec.frame(0), rec.rig)
    assert g.info.device == "cuda" and len(a) == len(b)


def test_shipped_weights_are_registered_and_labelled_synthetic() -> None:
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped weights in this checkout")
    from fusionlabel.detect.registry import create_detector, discover

    assert "pillars" in [e.name for e in discover()]
    det = create_detector("pillars")
    assert det.info.name == "pillars" and "SYNTHETIC" in det.info.description
    assert read_header(DEFAULT_WEIGHTS).meta["synthetic_only"] is True
    assert DEFAULT_WEIGHTS.stat().st_size < 5_000_000


def test_shipped_weights_on_a_real_kitti_frame(real_data: Path) -> None:
    """Smoke test on a 120k-point KITTI frame: valid output (quality on real data is not claimed)."""
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip("no shipped weights in this checkout")
    path = real_data / "kitti" / "object" / "training" / "velodyne" / "000001.bin"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    xyz = np.fromfile(path, np.float32).reshape(-1, 4)
    assert len(xyz) > 100_000
    det = create(device="cpu")
    d = det.predict([xyz[:, :3]], [xyz[:, 3]])[0]
    validate_detections("pillars", det.to_detections(d), det.info.classes)


# -- the command ----------------------------------------------------------------------------------
def test_train_command_writes_a_loadable_checkpoint(
    tmp_path: Path, tiny_rec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fusionlabel.cli import main

    out = tmp_path / "model.pt"
    rc = main(
        [
            "train",
            "--recordings",
            str(tiny_rec),
            str(tiny_rec),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--batch-size",
            "2",
            "--device",
            "cpu",
            "--seed",
            "3",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    assert "2 steps on cpu" in capsys.readouterr().out  # 4 frames (the recording twice), batches of 2
    header = read_header(out)
    assert header.meta["synthetic_only"] is True
    assert header.meta["training"]["seed"] == 3 and header.meta["training"]["frames"] == 4
    assert header.meta["training"]["window_m"] == 80.0
    assert header.config == PillarsConfig()  # +-100 m, Car Van Truck Bus Pedestrian Cyclist
    det = create(out, device="cpu")
    assert det.info.version.startswith("model.pt")
    # the grid and the classes are the user's choice
    small = tmp_path / "small.pt"
    args = ["train", "--recordings", str(tiny_rec), "--out", str(small), "--epochs", "1", "--device", "cpu"]
    rc = main([*args, "--range", "24", "--classes", "Car, Pedestrian, car", "--window", "0"])
    out_err = capsys.readouterr()
    assert rc == 0, out_err.err
    h = read_header(small)
    counts = h.meta["training"]["boxes_per_class"]
    assert counts["Car"] > 0 and counts["Pedestrian"] > 0 and counts["car"] == 0
    assert "Car " in out_err.out and "no box of car" in out_err.err  # a typo is named
    assert h.config.classes == ("Car", "Pedestrian", "car") and h.config.x_range == (-24.0, 24.0)
    assert h.meta["training"]["window_m"] is None
    assert main([*args, "--range", "25"]) != 0
    assert "divisible" in capsys.readouterr().err


def test_train_command_fails_with_the_file_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fusionlabel.cli import main

    cloud = tmp_path / "cloud.bin"
    np.zeros((100, 4), np.float32).tofile(cloud)
    rc = main(["train", "--recordings", str(cloud), "--out", str(tmp_path / "m.pt"), "--epochs", "1"])
    err = capsys.readouterr().err
    assert rc == 1 and str(cloud) in err and "no labels" in err
    assert not (tmp_path / "m.pt").exists()
    rc = main(["train", "--recordings", str(tmp_path / "absent"), "--out", str(tmp_path / "m.pt")])
    assert rc == 1 and "absent" in capsys.readouterr().err
