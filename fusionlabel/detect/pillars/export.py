"""Export a pillars checkpoint to an ONNX model that meets the ``onnx`` detector's contract.

The contract (:mod:`fusionlabel.detect.onnx_detector`): one input ``points`` (N, F) float32 in
the ego frame, outputs ``boxes`` (M, 7) float32 ``[x, y, z, l, w, h, yaw]``, ``scores`` (M,)
float32, ``labels`` (M,) int64, and the class names in the model's metadata
(``fusionlabel.classes``). The whole network goes into the graph, pre- and post-processing
included, for one frame:

* **pillars, export-friendly**: :class:`~fusionlabel.detect.pillars.model.PillarFeatureNet` finds
  the occupied pillars with ``torch.unique`` (dynamic shapes). Here every point is scattered
  straight onto the full grid of ``ny * nx`` pillars plus one spare cell that takes the points
  outside the grid's box (dropped at the end): the pillar means are ``scatter_add`` sums over
  counts, the max over a pillar's points a ``scatter_reduce(amax)`` onto zeros, which equals the
  torch path's max because the features are ReLU outputs (>= 0). Same values, static shapes;
* **decoding**: sigmoid heatmap, 3x3 max-pool NMS, top-``max_objects`` peaks over all classes
  and the regression read back into boxes, as :func:`~fusionlabel.detect.pillars.targets.decode`;
  every peak is returned (the detector applies its score threshold).

``torch.onnx.export`` (the TorchScript exporter; opset 17) writes the graph; the ``onnx``
package adds the metadata. ``onnxruntime`` reproduces the torch detector's boxes and scores to
1e-4 (tests/detect/test_onnx.py).

Example
-------
>>> from fusionlabel.detect.pillars.export import export_onnx          # doctest: +SKIP
>>> export_onnx("model.pt", "model.onnx")                              # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from fusionlabel.detect.pillars.config import PillarsConfig

#: the opset the model is written with
OPSET = 17
#: the metadata keys of the contract
CLASSES_KEY = "fusionlabel.classes"
FEATURES_KEY = "fusionlabel.point_features"
SOURCE_KEY = "fusionlabel.source"


class ExportNet(nn.Module):
    """One frame's points -> top-K boxes, scores, labels (the module docstring), for export.

    ``forward(points)``: points (N, 3 | 4) float32 ego frame -> boxes (K, 7), scores (K,),
    labels (K,) int64 with K = ``max_objects``, sorted by decreasing score.
    """

    def __init__(self, net: Any, config: PillarsConfig, max_objects: int = 200) -> None:
        super().__init__()
        self.config = config
        self.linear = net.pfn.linear
        self.norm = net.pfn.norm
        self.backbone = net.backbone
        self.head = net.head
        H, W = config.out_shape
        self.k = int(min(max_objects, len(config.classes) * H * W))

    def forward(self, points: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        c = self.config
        ny, nx = c.grid_shape
        x0, y0 = c.x_range[0], c.y_range[0]
        xyz = points[:, :3]
        inside = c.inside(xyz)
        ix = torch.clamp(torch.floor((xyz[:, 0] - x0) / c.pillar_size), 0, nx - 1)
        iy = torch.clamp(torch.floor((xyz[:, 1] - y0) / c.pillar_size), 0, ny - 1)
        spare = torch.full_like(ix, float(ny * nx))
        flat = torch.where(inside, iy * nx + ix, spare).long()  # (N,) pillar, or the spare cell
        n_cells = ny * nx + 1
        ones = torch.ones_like(xyz[:, 0])
        counts = torch.zeros(n_cells, dtype=xyz.dtype).scatter_add(0, flat, ones)
        sums = torch.zeros(n_cells, 3, dtype=xyz.dtype).scatter_add(0, flat[:, None].expand(-1, 3), xyz)
        mean = sums / torch.clamp(counts, min=1.0)[:, None]
        centre = torch.stack([x0 + (ix + 0.5) * c.pillar_size, y0 + (iy + 0.5) * c.pillar_size], dim=1)
        feats = torch.cat([points, xyz - mean[flat], xyz[:, :2] - centre], dim=1)
        h = torch.relu(self.norm(self.linear(feats)))  # (N, C), >= 0
        C = h.shape[1]
        canvas = torch.zeros(n_cells, C, dtype=h.dtype).scatter_reduce(
            0, flat[:, None].expand(-1, C), h, reduce="amax", include_self=True
        )
        bev = canvas[: ny * nx].reshape(1, ny, nx, C).permute(0, 3, 1, 2)
        heatmap, reg = self.head(self.backbone(bev))
        return self._decode(heatmap, reg)

    def _decode(self, heatmap: Tensor, reg: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        c = self.config
        hm = torch.sigmoid(heatmap)
        _, _, H, W = hm.shape
        pooled = nn.functional.max_pool2d(hm, 3, stride=1, padding=1)
        peaks = hm * (pooled == hm).to(hm.dtype)
        scores, idx = torch.topk(peaks.reshape(-1), self.k)
        labels = torch.div(idx, H * W, rounding_mode="floor")
        cell = idx - labels * (H * W)
        jj = torch.div(cell, W, rounding_mode="floor")
        ii = cell - jj * W
        R = reg.shape[1]
        g = reg.reshape(R, H * W)[:, cell]  # (R, k)
        s = c.cell_size
        x = (ii.to(g.dtype) + g[0]) * s + c.x_range[0]
        y = (jj.to(g.dtype) + g[1]) * s + c.y_range[0]
        size = torch.exp(torch.clamp(g[3:6], max=5.0))
        yaw = torch.atan2(g[6], g[7])
        boxes = torch.stack([x, y, g[2], size[0], size[1], size[2], yaw], dim=1)
        return boxes, scores, labels


def export_onnx(
    weights: str | Path, out: str | Path, max_objects: int = 200, example_points: Tensor | None = None
) -> Path:
    """Write the checkpoint ``weights`` as an ONNX model at ``out`` (atomically); returns ``out``.

    Raises
    ------
    DataError : the checkpoint is missing, corrupt or not a pillars checkpoint (naming it);
        ``out`` is the checkpoint itself
    FusionLabelError : the onnx package is not installed
    """
    import io

    from fusionlabel.core.atomic import atomic_write_bytes
    from fusionlabel.core.errors import DataError, FusionLabelError

    try:
        import onnx
    except ImportError:
        raise FusionLabelError("exporting needs the onnx package: pip install 'fusionlabel[onnx]'") from None
    from fusionlabel.core.atomic import file_sha256
    from fusionlabel.detect.pillars.checkpoint import build_network

    src, dst = Path(weights), Path(out)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise DataError(dst, "is the checkpoint being exported: choose another output")
    net, config, meta = build_network(src, "cpu")
    model = ExportNet(net, config, max_objects).eval()
    f = 3 + int(config.use_intensity)
    if example_points is None:
        g = torch.Generator().manual_seed(0)
        example_points = torch.rand(2000, f, generator=g) * torch.tensor([60.0, 60.0, 3.0, 1.0][:f]) - torch.tensor(
            [30.0, 30.0, 0.5, 0.0][:f]
        )
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example_points,),
            buf,  # type: ignore[arg-type]  # a file object is accepted too
            input_names=["points"],
            output_names=["boxes", "scores", "labels"],
            dynamic_axes={"points": {0: "num_points"}},
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load_from_string(buf.getvalue())
    features = "x y z intensity" if config.use_intensity else "x y z"
    for key, value in (
        (CLASSES_KEY, json.dumps(list(config.classes))),
        (FEATURES_KEY, features),
        (SOURCE_KEY, json.dumps({"checkpoint": src.name, "sha256": file_sha256(src), "meta": meta}, default=str)),
        ("fusionlabel.description", "pillars (PointPillars + CenterPoint), exported by fusionlabel export-model"),
    ):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "fusionlabel"
    onnx.checker.check_model(proto)
    atomic_write_bytes(dst, proto.SerializeToString())
    return dst
