"""Training the pillar network on labelled recordings (``fusionlabel train``).

Any recording :func:`fusionlabel.io.open.open_recording` opens and whose ``labels()`` returns a
:class:`~fusionlabel.core.labels.LabelSet` (ego-frame boxes) can be used: synthetic recordings
from :func:`fusionlabel.synth.generate`, KITTI tracking / object folders, native recordings.
Boxes of categories outside ``config.classes`` are ignored, as are boxes with fewer than
``min_points`` LiDAR points inside (nothing to learn from).

Per training step (batch of B frames):

1. augmentation, drawn from the step's seeded generator (:func:`augment`): flip y -> -y with
   p = 0.5, a global rotation about z by U(-rot, rot), a global scaling by U(1 - s, 1 + s);
2. targets (:func:`~fusionlabel.detect.pillars.targets.encode_targets`);
3. loss = focal(heatmap) + ``reg_weight`` * L1(regression at object centres) (:func:`losses`);
4. AdamW with a one-cycle learning-rate schedule; on CUDA under ``torch.autocast`` (float16) with
   a gradient scaler.

Determinism: the data order and every augmentation come from ``numpy.random.default_rng(seed)``
and the weights' initialisation from ``torch.manual_seed(seed)``; on the CPU with the same
thread count two runs give the same checkpoint (CUDA kernels such as ``index_add_`` are not
bit-reproducible).

Example
-------
>>> from fusionlabel.detect.pillars.train import TrainOptions, train        # doctest: +SKIP
>>> result = train(["/tmp/synth_1", "/tmp/synth_2"], "model.pt", TrainOptions(epochs=10))   # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import points_in_boxes
from fusionlabel.core.errors import CalibrationError, DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.points import lidar_points_ego
from fusionlabel.detect.pillars.config import PillarsConfig
from fusionlabel.detect.pillars.inputs import crop_points
from fusionlabel.detect.pillars.targets import Targets, encode_targets

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor


@dataclass(frozen=True)
class Sample:
    """One labelled LiDAR frame held in memory.

    points : (M, 3 | 4) float32 ego-frame points (x y z [intensity]) within reach of the grid
    boxes : (N, 7) float64 ``[x, y, z, l, w, h, yaw]`` ego frame
    labels : (N,) int64 class channels
    velocity : (N, 2) float64 m/s ego frame (zeros where the labels carry none)
    source : ``"<recording>#<frame>"`` for messages
    """

    points: NDArray[np.float32]
    boxes: NDArray[np.float64]
    labels: NDArray[np.int64]
    velocity: NDArray[np.float64]
    source: str


@dataclass(frozen=True)
class TrainOptions:
    """Training arguments (all stored in the checkpoint's metadata).

    epochs, batch_size, lr (peak of the one-cycle schedule), weight_decay, seed, device
    (``auto`` / ``cpu`` / ``cuda``), min_points (boxes with fewer LiDAR points are ignored),
    flip / rotation (radians) / scaling (relative) augmentation, reg_weight (L1 weight),
    threads (torch CPU threads; None: torch's default), window_m (each batch is trained on a
    square window of this edge placed at random on a larger grid, :func:`random_window`: a
    ±100 m grid trains at the cost of an 80 m one; None or a window covering the grid: the
    whole grid).
    """

    epochs: int = 20
    batch_size: int = 4
    lr: float = 3e-3
    weight_decay: float = 0.01
    seed: int = 0
    device: str = "auto"
    min_points: int = 5
    flip: bool = True
    rotation: float = math.pi / 4
    scaling: float = 0.05
    reg_weight: float = 0.25
    threads: int | None = None
    window_m: float | None = 80.0

    def __post_init__(self) -> None:
        if self.window_m is not None and self.window_m <= 0:
            raise ValueError("window_m must be positive (or None: the whole grid)")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1")
        if self.lr <= 0:
            raise ValueError("lr must be positive")


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` did: checkpoint path, sample count, seconds, per-epoch mean losses."""

    path: Path
    samples: int
    steps: int
    seconds: float
    epoch_losses: tuple[float, ...]
    device: str
    meta: dict[str, Any] = field(default_factory=dict)


# -- data ---------------------------------------------------------------------------------------
def samples_from_recording(path: str | Path, config: PillarsConfig, min_points: int = 5) -> list[Sample]:
    """Every labelled frame of one recording as :class:`Sample` (points cropped near the grid).

    Raises
    ------
    DataError
        the recording cannot be opened, or has no labels (naming it).
    """
    from fusionlabel.io.open import open_recording

    p = Path(path)
    rec = open_recording(p)
    labels = rec.labels
    if labels is None or len(labels) == 0:
        raise DataError(p, "recording has no labels to train on")
    return samples_from_labels(rec, labels, config, min_points, p.name)


def samples_from_labels(
    rec: Any, labels: LabelSet, config: PillarsConfig, min_points: int = 5, name: str | None = None
) -> list[Sample]:
    """The frames of ``labels`` (ego-frame boxes of an opened recording ``rec``) as :class:`Sample`.

    Boxes of categories outside ``config.classes`` and with fewer than ``min_points`` LiDAR
    points are left out; frames past the recording's end are skipped. ``name`` prefixes each
    sample's ``source`` (default: the recording's folder name).
    """
    name = name or Path(str(rec.path)).name
    # keep points the augmentation may rotate / scale into the grid
    reach = 1.25 * math.hypot(max(map(abs, config.x_range)), max(map(abs, config.y_range)))
    wide = PillarsConfig(
        config.classes,
        (-reach, reach),
        (-reach, reach),
        config.z_range,
        pillar_size=2 * reach / 8,
        channels=(8,),
        use_intensity=config.use_intensity,
    )
    cls_index = {c: k for k, c in enumerate(config.classes)}
    bad = rec.lidar_calibration_problem()
    if bad is not None:
        raise CalibrationError(bad.path, f"{bad.reason}: cannot train on it")
    out: list[Sample] = []
    for fi in sorted(labels):
        if fi >= len(rec):
            continue
        frame = rec.frame(fi)
        cloud = lidar_points_ego(frame, rec.rig)
        fl = labels.get(fi)
        keep = np.array([c in cls_index for c in fl.categories], dtype=bool)
        boxes = fl.boxes[np.flatnonzero(keep)]
        if len(boxes):
            inside = points_in_boxes(cloud.xyz, boxes)  # (M, N)
            counts = inside.sum(axis=0)
            ok = counts >= min_points
        else:
            ok = np.zeros(0, bool)
        idx = np.flatnonzero(keep)[ok]
        vel = np.zeros((len(idx), 2))
        for r, j in enumerate(idx):
            v = (fl.attributes[j] if fl.attributes else {}).get("velocity")
            if v is not None and len(v) >= 2:
                vel[r] = [float(v[0]), float(v[1])]
        out.append(
            Sample(
                crop_points(cloud.xyz, cloud.intensity, wide),
                fl.boxes[idx].to_array(),
                np.array([cls_index[fl.categories[j]] for j in idx], np.int64),
                vel,
                f"{name}#{fi}",
            )
        )
    return out


def class_counts(samples: Sequence[Sample], config: PillarsConfig) -> dict[str, int]:
    """Boxes trained on per class of ``config`` (a class with none has a heatmap that only learns
    "nothing here": a typo in ``--classes``, or a class the recordings lack)."""
    n = np.zeros(len(config.classes), np.int64)
    for s in samples:
        n += np.bincount(s.labels, minlength=len(config.classes))[: len(config.classes)]
    return {c: int(k) for c, k in zip(config.classes, n)}


def is_synthetic(path: str | Path) -> bool:
    """Whether ``path`` is a recording written by :func:`fusionlabel.synth.generate`."""
    from fusionlabel.io.native import SYNTH_INFO

    return (Path(path) / SYNTH_INFO).is_file()


def augment(s: Sample, rng: np.random.Generator, opts: TrainOptions) -> Sample:
    """Random flip, rotation and scaling of one sample (points, boxes, velocities together).

    flip: ``y -> -y``, ``yaw -> -yaw``; rotation by ``a``: ``p -> R_z(a) p``, ``yaw -> yaw + a``;
    scaling by ``k``: ``p -> k p``, sizes and velocities ``* k``.
    """
    pts = s.points.copy()
    b = s.boxes.copy()
    v = s.velocity.copy()
    if opts.flip and rng.random() < 0.5:
        pts[:, 1] *= -1
        b[:, 1] *= -1
        b[:, 6] *= -1
        v[:, 1] *= -1
    a = rng.uniform(-opts.rotation, opts.rotation) if opts.rotation > 0 else 0.0
    if a:
        c, sn = math.cos(a), math.sin(a)
        R = np.array([[c, -sn], [sn, c]])
        pts[:, :2] = pts[:, :2] @ R.T.astype(np.float32)
        b[:, :2] = b[:, :2] @ R.T
        b[:, 6] += a
        v = v @ R.T
    k = rng.uniform(1 - opts.scaling, 1 + opts.scaling) if opts.scaling > 0 else 1.0
    pts[:, :3] *= np.float32(k)
    b[:, :6] *= k
    v *= k
    b[:, 6] = np.arctan2(np.sin(b[:, 6]), np.cos(b[:, 6]))
    return Sample(pts, b, s.labels, v, s.source)


def collate(
    samples: Sequence[Sample], config: PillarsConfig, device: str
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Batch tensors: points, batch index, heatmap targets, centre (batch, cell) indices, reg targets, box labels."""
    import torch

    targets: list[Targets] = [
        encode_targets(s.boxes, s.labels, config, s.velocity if config.velocity else None) for s in samples
    ]
    pts = np.concatenate([s.points for s in samples])
    bidx = np.repeat(np.arange(len(samples)), [len(s.points) for s in samples])
    hm = np.stack([t.heatmap for t in targets])
    ob = np.concatenate([np.full(len(t.index), b, np.int64) for b, t in enumerate(targets)])
    oc = np.concatenate([t.index for t in targets])
    reg = np.concatenate([t.reg for t in targets])
    lab = np.concatenate([t.labels for t in targets])

    def T(a: NDArray[Any]) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(device)

    return T(pts), T(bidx), T(hm), T(np.stack([ob, oc], 1)), T(reg), T(lab)


# -- losses -------------------------------------------------------------------------------------
def focal_loss(logits: Tensor, target: Tensor) -> Tensor:
    """CenterNet's penalty-reduced focal loss (Law & Deng 2018; Zhou et al. 2019).

    ``L = -1/N_pos [ sum_pos (1-p)^2 log p + sum_neg (1-y)^4 p^2 log(1-p) ]`` with ``p =
    sigmoid(logits)``, ``y`` the Gaussian target, positives where ``y == 1``.
    """
    import torch
    import torch.nn.functional as F

    x = logits.float()
    p = torch.sigmoid(x).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = 1.0 - pos
    log_p = F.logsigmoid(x)
    log_1mp = F.logsigmoid(-x)
    pos_loss = (log_p * (1 - p) ** 2 * pos).sum()
    neg_loss = (log_1mp * p**2 * (1 - target) ** 4 * neg).sum()
    n_pos = pos.sum().clamp(min=1.0)
    return -(pos_loss + neg_loss) / n_pos


def random_window(
    config: PillarsConfig,
    size_m: float | None,
    rng: np.random.Generator,
    focus: NDArray[np.float64] | None = None,
) -> PillarsConfig:
    """A window of ``config`` (:meth:`PillarsConfig.window`) to train one batch on.

    Its centre is uniform over the grid shrunk by half the window (every part of the grid is
    trained on, empty ones too) or, half of the time when ``focus`` (M, >=2) holds points (the
    batch's box centres), within a quarter window of one of them (so the objects of a few seed
    frames are seen often). ``config`` itself, with no random draw, when ``size_m`` is None or
    covers the grid.
    """
    if size_m is None or config.window(config.x_range[0], config.y_range[0], size_m) is config:
        return config
    h = size_m / 2
    if focus is not None and len(focus) and rng.random() < 0.5:
        p = focus[int(rng.integers(len(focus)))]
        cx, cy = float(p[0]) + rng.uniform(-h / 2, h / 2), float(p[1]) + rng.uniform(-h / 2, h / 2)
    else:
        cx = rng.uniform(config.x_range[0] + h, config.x_range[1] - h)
        cy = rng.uniform(config.y_range[0] + h, config.y_range[1] - h)
    return config.window(cx - h, cy - h, size_m)


def batch_centres(batch: Sequence[Sample]) -> NDArray[np.float64]:
    """(M, 2) the box centres of a batch (the focus of :func:`random_window`)."""
    return np.concatenate([s.boxes[:, :2] for s in batch] + [np.zeros((0, 2))])


def train_step(
    net: Any,
    batch: list[Sample],
    config: PillarsConfig,
    device: str,
    optim: Any,
    sched: Any,
    scaler: Any,
    params: Any,
    reg_weight: float = 0.25,
    window: PillarsConfig | None = None,
) -> float:
    """One optimiser step on ``batch`` (mixed precision on CUDA, gradients clipped at 10, the
    schedule stepped): what training and fine-tuning share. ``window``: the sub-grid the batch
    is trained on (:func:`random_window`; default the whole grid). Returns the loss."""
    import torch

    grid = window or config
    if grid is not config and sum(int(grid.inside(s.points).sum()) for s in batch) < 2:
        grid = config  # a window on empty ground (a batch norm needs two points): the whole grid
    pts, bidx, hm_t, centres, reg_t, _lab = collate(batch, grid, device)
    with torch.autocast("cuda", dtype=torch.float16, enabled=device.startswith("cuda")):
        hm, reg = net(pts, bidx, len(batch), None if grid is config else grid)
    loss, _h, _r = losses(hm, reg, hm_t, centres, reg_t, reg_weight)
    optim.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optim)
    torch.nn.utils.clip_grad_norm_(params, 10.0)
    scaler.step(optim)
    scaler.update()
    sched.step()
    return float(loss.detach())


def losses(
    heatmap: Tensor, reg: Tensor, hm_target: Tensor, centres: Tensor, reg_target: Tensor, reg_weight: float = 0.25
) -> tuple[Tensor, Tensor, Tensor]:
    """``(total, heatmap loss, regression loss)``; regression is L1 at the M object centres.

    centres : (M, 2) int64 ``(batch, flat cell)``; reg_target : (M, R).
    """
    hm_loss = focal_loss(heatmap, hm_target)
    if len(centres):
        B, R, H, W = reg.shape
        pred = reg.float().permute(0, 2, 3, 1).reshape(B, H * W, R)[centres[:, 0], centres[:, 1]]  # (M, R)
        reg_loss = (pred - reg_target).abs().sum() / len(centres)
    else:
        reg_loss = reg.float().sum() * 0.0
    return hm_loss + reg_weight * reg_loss, hm_loss, reg_loss


# -- the loop -----------------------------------------------------------------------------------
def train_samples(
    samples: Sequence[Sample],
    config: PillarsConfig,
    opts: TrainOptions,
    progress: Callable[[int, int, float], None] | None = None,
) -> tuple[Any, list[float], int, str]:
    """Train a new :class:`~fusionlabel.detect.pillars.model.PillarNet` on in-memory samples.

    Returns ``(net in eval mode, per-epoch mean losses, steps, device)``. ``progress(step, total,
    loss)`` is called after each step.
    """
    import torch

    from fusionlabel.detect.pillars.inputs import resolve_device
    from fusionlabel.detect.pillars.model import PillarNet

    if not samples:
        raise ValueError("no training samples")
    if opts.threads:
        torch.set_num_threads(int(opts.threads))
    device = resolve_device(opts.device)
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    net = PillarNet(config).to(device)
    net.train()
    steps_per_epoch = math.ceil(len(samples) / opts.batch_size)
    total = steps_per_epoch * opts.epochs
    optim = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        optim, max_lr=opts.lr, total_steps=total, pct_start=0.3, div_factor=10.0
    )
    cuda = device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    epoch_losses: list[float] = []
    step = 0
    for _epoch in range(opts.epochs):
        order = rng.permutation(len(samples))
        acc = 0.0
        for s0 in range(0, len(order), opts.batch_size):
            batch = [augment(samples[i], rng, opts) for i in order[s0 : s0 + opts.batch_size]]
            window = random_window(config, opts.window_m, rng, batch_centres(batch))
            loss = train_step(
                net, batch, config, device, optim, sched, scaler, net.parameters(), opts.reg_weight, window
            )
            step += 1
            acc += loss
            if progress is not None:
                progress(step, total, loss)
        epoch_losses.append(acc / steps_per_epoch)
    return net.eval(), epoch_losses, step, device


def train(
    recordings: Sequence[str | Path],
    out: str | Path,
    opts: TrainOptions | None = None,
    config: PillarsConfig | None = None,
    progress: Callable[[str, int, int, float | None], None] | None = None,
    command: str | None = None,
) -> TrainResult:
    """Load labelled recordings, train, write a checkpoint to ``out``.

    Parameters
    ----------
    recordings : recording paths (anything :func:`~fusionlabel.io.open.open_recording` opens, with labels)
    out : checkpoint path (``.pt``); written atomically at the end
    opts : training arguments (default :class:`TrainOptions`)
    config : network and grid (default :class:`PillarsConfig`)
    progress : ``progress(phase, done, total, loss)`` with phase ``"loading"`` or ``"training"``
    command : the command line, stored in the checkpoint's metadata

    Raises
    ------
    DataError
        a recording cannot be opened or has no labels, or no frame has a usable box.
    """
    import torch

    from fusionlabel import __version__
    from fusionlabel.detect.pillars.checkpoint import save_checkpoint

    opts = opts or TrainOptions()
    config = config or PillarsConfig()
    outp = Path(out)
    if not outp.parent.exists():
        raise DataError(outp, "output folder does not exist")
    t0 = time.perf_counter()
    samples: list[Sample] = []
    for i, r in enumerate(recordings):
        samples.extend(samples_from_recording(r, config, opts.min_points))
        if progress is not None:
            progress("loading", i + 1, len(recordings), None)
    if not any(len(s.boxes) for s in samples):
        raise DataError(
            Path(recordings[0]),
            f"no box of classes {list(config.classes)} with >= {opts.min_points} points in these recordings",
        )
    t_load = time.perf_counter() - t0

    def on_step(step: int, total: int, loss: float) -> None:
        if progress is not None:
            progress("training", step, total, loss)

    t1 = time.perf_counter()
    net, epoch_losses, steps, device = train_samples(samples, config, opts, on_step)
    t_train = time.perf_counter() - t1
    synthetic = all(is_synthetic(r) for r in recordings)
    meta = {
        "fusionlabel_version": __version__,
        "torch_version": torch.__version__,
        "synthetic_only": synthetic,
        "training": {
            **asdict(opts),
            "recordings": [Path(r).name for r in recordings],
            "frames": len(samples),
            "boxes": int(sum(len(s.boxes) for s in samples)),
            "boxes_per_class": class_counts(samples, config),
            "steps": steps,
            "device": device,
            "seconds_loading": round(t_load, 1),
            "seconds_training": round(t_train, 1),
            "final_epoch_loss": round(epoch_losses[-1], 4),
        },
        "command": command or "",
    }
    path = save_checkpoint(outp, net.state_dict(), config, meta)
    return TrainResult(path, len(samples), steps, time.perf_counter() - t0, tuple(epoch_losses), device, meta)
