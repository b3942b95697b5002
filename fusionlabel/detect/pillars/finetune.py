"""Fine-tuning a pillar checkpoint on a few labelled frames (``fusionlabel adapt``).

The base checkpoint's weights are the start; the training samples are the annotator's seed
frames (:func:`~fusionlabel.detect.pillars.train.samples_from_labels`). With one to five frames an
epoch over them would be one or two steps, so an *epoch* here draws ``samples_per_epoch`` frames
from the seeds with replacement, each augmented afresh:

1. copy-paste (:func:`~fusionlabel.detect.pillars.augment.copy_paste`): up to ``paste_objects``
   labelled objects of any seed frame pasted in, at their place or rotated about the sensor;
2. flip ``y -> -y`` (p = 0.5), global rotation U(-rot, rot), global scaling U(1 - s, 1 + s)
   (:func:`~fusionlabel.detect.pillars.train.augment`).

The loss, optimiser (AdamW, one-cycle schedule) and mixed precision on CUDA are those of
:mod:`~fusionlabel.detect.pillars.train`; batch norm statistics adapt to the new sensor in
training mode. The result is written as a new checkpoint with the provenance in its metadata
(``meta["adaptation"]``: base weights and their SHA-256, frames used, options, losses); the base
file is only read.

Determinism: as training, on the CPU with the same thread count the same seed gives the same
checkpoint.

Example
-------
>>> from fusionlabel.detect.pillars.finetune import AdaptOptions, finetune   # doctest: +SKIP
>>> res = finetune(base, samples, "adapted.pt", AdaptOptions(epochs=5))      # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.atomic import file_sha256
from fusionlabel.core.errors import DataError
from fusionlabel.detect.adaptation import AdaptOptions, FinetuneCancelled, FinetuneResult, NoTrainingData
from fusionlabel.detect.pillars.augment import ObjectBank, copy_paste
from fusionlabel.detect.pillars.train import Sample, TrainOptions, augment, batch_centres, random_window, train_step


def finetune(
    base_weights: str | Path,
    samples: Sequence[Sample],
    out: str | Path,
    opts: AdaptOptions | None = None,
    provenance: Mapping[str, Any] | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> FinetuneResult:
    """Fine-tune the network of ``base_weights`` on ``samples`` and write the result to ``out``.

    Parameters
    ----------
    base_weights : a pillars checkpoint (only read)
    samples : the labelled seed frames
    out : the adapted checkpoint to write (must not be ``base_weights``)
    opts : the arguments (default :class:`AdaptOptions`)
    provenance : JSON data added to ``meta["adaptation"]`` (the recording, the seed file, ...)
    progress : ``progress(step, total, loss)`` after each step
    cancel : polled before each step; True raises :class:`FinetuneCancelled` (nothing written)

    Raises
    ------
    DataError : the base checkpoint is unusable (naming it), or ``out`` is the base file
    NoTrainingData : no sample holds a box
    FinetuneCancelled : ``cancel()`` returned True
    """
    import torch

    from fusionlabel import __version__
    from fusionlabel.detect.pillars.checkpoint import build_network, save_checkpoint
    from fusionlabel.detect.pillars.inputs import resolve_device

    opts = opts or AdaptOptions()
    base = Path(base_weights)
    outp = Path(out)
    if outp.exists() and base.exists() and outp.resolve() == base.resolve():
        raise DataError(outp, "is the base checkpoint: the adapted weights go to a new file")
    usable = [s for s in samples if len(s.boxes)]
    if not usable:
        raise NoTrainingData(f"no labelled box of the classes {list(config_classes(base))} with enough LiDAR points")
    base_hash = file_sha256(base)
    if opts.threads:
        torch.set_num_threads(int(opts.threads))
    device = resolve_device(opts.device)
    net, config, base_meta = build_network(base, device)
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    bank = ObjectBank.from_samples(usable) if opts.copy_paste else None
    aug = TrainOptions(flip=opts.flip, rotation=opts.rotation, scaling=opts.scaling, batch_size=opts.batch_size)
    net.train()
    params = trainable(net, opts.layers)
    ends = {id(p) for p in trainable(net, "ends")} if opts.layers == "all" else {id(p) for p in params}
    for p in params:
        p.requires_grad_(True)
    groups: list[dict[str, Any]] = [
        {"params": [p for p in params if id(p) in ends], "lr": opts.lr},
        {"params": [p for p in params if id(p) not in ends], "lr": opts.lr * opts.body_lr},
    ]
    groups = [g for g in groups if g["params"]]
    total = opts.steps
    optim = torch.optim.AdamW(groups, lr=opts.lr, weight_decay=opts.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        optim, max_lr=[float(g["lr"]) for g in groups], total_steps=total, pct_start=0.2, div_factor=10.0
    )
    cuda = device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    t0 = time.perf_counter()
    epoch_losses: list[float] = []
    step = 0
    per_epoch = math.ceil(opts.samples_per_epoch / opts.batch_size)
    for _epoch in range(opts.epochs):
        acc = 0.0
        for _ in range(per_epoch):
            if cancel is not None and cancel():
                raise FinetuneCancelled(f"fine-tuning cancelled at step {step} of {total}")
            batch = []
            for i in rng.integers(0, len(usable), size=opts.batch_size):
                s = usable[int(i)]
                if bank is not None:
                    s = copy_paste(s, bank, rng, opts.paste_objects)
                batch.append(augment(s, rng, aug))
            window = random_window(config, opts.window_m, rng, batch_centres(batch))
            loss = train_step(net, batch, config, device, optim, sched, scaler, params, window=window)
            step += 1
            acc += loss
            if progress is not None:
                progress(step, total, loss)
        epoch_losses.append(acc / per_epoch)
    seconds = time.perf_counter() - t0
    meta = {
        "fusionlabel_version": __version__,
        "torch_version": torch.__version__,
        "synthetic_only": False,
        "adaptation": {
            "base_weights": base.name,
            "base_sha256": base_hash,
            "base_meta_command": base_meta.get("command", ""),
            "frames": [s.source for s in usable],
            "boxes": int(sum(len(s.boxes) for s in usable)),
            "options": asdict(opts),
            "steps": step,
            "device": device,
            "seconds": round(seconds, 1),
            "epoch_losses": [round(x, 4) for x in epoch_losses],
            **dict(provenance or {}),
        },
    }
    path = save_checkpoint(outp, net.eval().state_dict(), config, meta)
    if file_sha256(base) != base_hash:  # never: the base is only read; checked because it is promised
        raise DataError(base, "the base checkpoint changed while it was fine-tuned")
    return FinetuneResult(path, file_sha256(path), base, base_hash, step, seconds, tuple(epoch_losses), device, meta)


def trainable(net: Any, layers: str) -> list[Any]:
    """The parameters fine-tuning changes (:attr:`AdaptOptions.layers`); the others are frozen
    (``requires_grad`` off; batch norm statistics still follow the new data in training mode)."""
    import torch

    if layers == "all":
        keep = list(net.parameters())
    else:
        keep = list(net.pfn.parameters())
        if layers == "ends":
            keep.extend(net.head.reg.parameters())
        if layers == "norm":
            for m in net.modules():
                if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) and m is not net.pfn.norm:
                    keep.extend(m.parameters())
    ids = {id(p) for p in keep}
    for p in net.parameters():
        p.requires_grad_(id(p) in ids)
    return keep


def config_classes(path: Path) -> tuple[str, ...]:
    from fusionlabel.detect.pillars.checkpoint import read_header

    return read_header(path).config.classes
