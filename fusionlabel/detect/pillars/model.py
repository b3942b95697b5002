"""The pillar network in torch: PointNet pillar encoder, BEV CNN backbone, CenterPoint head.

Imported only when a network is built (by :mod:`fusionlabel.detect.pillars.infer` or
:mod:`~fusionlabel.detect.pillars.train`): importing this module imports torch.

Data flow for a batch of B frames (shapes for the default :class:`PillarsConfig`)::

    points (N, 3|4) float32, ego frame, with batch index (N,) int64
      -> pillar index p(n) = b * ny * nx + j * nx + i              (dynamic voxelisation, no caps)
      -> per-point features (N, 8|9): x y z [intensity], x-x̄ y-ȳ z-z̄ (pillar mean), x-x_c y-y_c
         (pillar centre)
      -> PointNet: Linear + BatchNorm + ReLU (N, C), max over the points of each pillar (P, C)
      -> scatter to the BEV pseudo-image (B, C, ny, nx) = (B, 16, 500, 500)
      -> backbone: blocks of 3x3 convolutions at strides 2, 4 (B, 32, 250, 250), (B, 64, 125, 125),
         each upsampled to stride 2 and concatenated (B, 64, 250, 250)
      -> head: shared 3x3 conv, then heatmap logits (B, K, 250, 250) and box regression
         (B, 8|10, 250, 250): offset dx dy (cells), z (m), log l w h (m), sin yaw, cos yaw[, vx vy]

This is PointPillars' encoder (Lang et al. 2019) with dynamic voxelisation (Zhou et al. 2019,
MVF) and a CenterPoint head (Yin et al. 2021) on an SECOND-style multi-scale backbone.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fusionlabel.detect.pillars.config import PillarsConfig

#: heatmap bias at start: sigmoid(-2.19) = 0.1 (CenterNet / CenterPoint initialisation)
HEATMAP_PRIOR_BIAS = -2.19


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1),
        nn.ReLU(inplace=True),
    )


class PillarFeatureNet(nn.Module):
    """Points -> BEV pseudo-image (dynamic pillars: every point counts, no per-pillar cap)."""

    def __init__(self, config: PillarsConfig) -> None:
        super().__init__()
        self.config = config
        self.linear = nn.Linear(config.point_features, config.pillar_channels, bias=False)
        self.norm = nn.BatchNorm1d(config.pillar_channels, eps=1e-3, momentum=0.1)

    def forward(
        self, points: Tensor, batch_index: Tensor, batch_size: int, grid: PillarsConfig | None = None
    ) -> Tensor:
        """Encode points into a pseudo-image.

        Parameters
        ----------
        points : (N, 3 + use_intensity) float32, ego frame, metres (out-of-range points allowed:
            they are dropped here)
        batch_index : (N,) int64 frame of each point in the batch
        batch_size : B
        grid : the region to encode, a :meth:`PillarsConfig.window` of the network's config
            (training on windows); default the whole grid

        Returns
        -------
        (B, pillar_channels, ny, nx) tensor; empty pillars are 0.
        """
        c = grid or self.config
        ny, nx = c.grid_shape
        x0, y0 = c.x_range[0], c.y_range[0]
        xyz = points[:, :3]
        keep = c.inside(xyz)
        points, batch_index = points[keep], batch_index[keep]
        xyz = points[:, :3]
        ix = ((xyz[:, 0] - x0) / c.pillar_size).long().clamp_(0, nx - 1)
        iy = ((xyz[:, 1] - y0) / c.pillar_size).long().clamp_(0, ny - 1)
        flat = batch_index * (ny * nx) + iy * nx + ix
        pillars, inverse = torch.unique(flat, return_inverse=True)
        n_p = len(pillars)
        # pillar mean: x̄ = sum x / count
        counts = torch.zeros(n_p, device=points.device, dtype=xyz.dtype).index_add_(
            0, inverse, torch.ones_like(xyz[:, 0])
        )
        sums = torch.zeros(n_p, 3, device=points.device, dtype=xyz.dtype).index_add_(0, inverse, xyz)
        mean = sums / counts.clamp(min=1.0)[:, None]
        # pillar centre: x_c = x0 + (i + 0.5) * pillar_size
        centre = torch.stack(
            [x0 + (ix.to(xyz.dtype) + 0.5) * c.pillar_size, y0 + (iy.to(xyz.dtype) + 0.5) * c.pillar_size], dim=1
        )
        feats = torch.cat([points, xyz - mean[inverse], xyz[:, :2] - centre], dim=1)
        h = torch.relu(self.norm(self.linear(feats)))  # (N, C)
        pooled = torch.zeros(n_p, h.shape[1], device=h.device, dtype=h.dtype)
        pooled = pooled.scatter_reduce(0, inverse[:, None].expand(-1, h.shape[1]), h, reduce="amax", include_self=False)
        canvas = torch.zeros(batch_size * ny * nx, h.shape[1], device=h.device, dtype=h.dtype)
        canvas[pillars] = pooled
        return canvas.view(batch_size, ny, nx, -1).permute(0, 3, 1, 2).contiguous()


class Backbone(nn.Module):
    """Multi-scale 2D CNN: block k at stride ``out_stride * 2**k``, all upsampled to block 0."""

    def __init__(self, config: PillarsConfig) -> None:
        super().__init__()
        chans = config.channels
        blocks: list[nn.Module] = []
        ups: list[nn.Module] = []
        cin = config.pillar_channels
        for k, ch in enumerate(chans):
            stride = config.out_stride if k == 0 else 2
            layers = [_conv(cin, ch, stride)] + [_conv(ch, ch) for _ in range(config.layers)]
            blocks.append(nn.Sequential(*layers))
            if k == 0:
                ups.append(nn.Identity())
            else:
                f = 2**k
                ups.append(
                    nn.Sequential(
                        nn.ConvTranspose2d(ch, chans[0], f, stride=f, bias=False),
                        nn.BatchNorm2d(chans[0], eps=1e-3, momentum=0.1),
                        nn.ReLU(inplace=True),
                    )
                )
            cin = ch
        self.blocks = nn.ModuleList(blocks)
        self.ups = nn.ModuleList(ups)
        self.out_channels = chans[0] * len(chans)

    def forward(self, x: Tensor) -> Tensor:
        outs = []
        for block, up in zip(self.blocks, self.ups):
            x = block(x)
            outs.append(up(x))
        return torch.cat(outs, dim=1)


class CenterHead(nn.Module):
    """Class heatmaps (logits) and per-cell box regression."""

    def __init__(self, config: PillarsConfig, in_channels: int) -> None:
        super().__init__()
        self.shared = _conv(in_channels, config.head_channels)
        self.heatmap = nn.Conv2d(config.head_channels, len(config.classes), 3, padding=1)
        self.reg = nn.Conv2d(config.head_channels, config.box_code_size, 3, padding=1)
        assert self.heatmap.bias is not None and self.reg.bias is not None
        nn.init.constant_(self.heatmap.bias, HEATMAP_PRIOR_BIAS)
        nn.init.normal_(self.reg.weight, std=0.001)
        nn.init.zeros_(self.reg.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.shared(x)
        return self.heatmap(h), self.reg(h)


class PillarNet(nn.Module):
    """The whole network: ``forward(points, batch_index, batch_size) -> (heatmap_logits, reg)``.

    Returns
    -------
    heatmap_logits : (B, K, H, W), one channel per class in ``config.classes``
    reg : (B, R, H, W) with R = ``config.box_code_size`` (see the module docstring)

    Example
    -------
    >>> net = PillarNet(PillarsConfig()).eval()
    >>> pts = torch.tensor([[10.0, 2.0, 0.5], [10.1, 2.1, 1.0]])
    >>> hm, reg = net(pts, torch.zeros(2, dtype=torch.long), 1)
    >>> tuple(hm.shape), tuple(reg.shape)
    ((1, 6, 250, 250), (1, 8, 250, 250))
    """

    def __init__(self, config: PillarsConfig) -> None:
        super().__init__()
        self.config = config
        self.pfn = PillarFeatureNet(config)
        self.backbone = Backbone(config)
        self.head = CenterHead(config, self.backbone.out_channels)

    def forward(
        self, points: Tensor, batch_index: Tensor, batch_size: int, grid: PillarsConfig | None = None
    ) -> tuple[Tensor, Tensor]:
        bev = self.pfn(points, batch_index, batch_size, grid)
        return self.head(self.backbone(bev))


def count_parameters(net: nn.Module) -> int:
    return sum(int(p.numel()) for p in net.parameters())
