"""``fusionlabel eval``: score tracking results against ground truth.

Two formats::

    fusionlabel eval --format kitti --gt DIR --results DIR --seqmap FILE --class Car [--iou 0.25] [--json]
    fusionlabel eval --format native --gt RECORDING --results LABELS [--class Car] [--iou 0.25] [--json]

KITTI follows AB3DMOT's evaluation (3D IoU, 2D height and DontCare filtering, sAMOTA sweep);
native scores a native label file against the ground truth of a (synthetic) recording, in the
ego frame with no 2D filtering. Definitions: ``docs/evaluation.md``. ``--json`` prints one JSON
object (percentages 0-100, counts as integers).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

_TABLE = ("sAMOTA", "AMOTA", "AMOTP", "MOTA", "MOTP", "IDS", "FRAG", "FP", "FN", "IDF1", "HOTA")


def format_summary(s: dict[str, Any]) -> str:
    """A human-readable report of :meth:`EvaluationReport.summary`."""

    def f(v: Any) -> str:
        if v is None:
            return "n/a"
        if isinstance(v, float):
            return f"{v:.2f}" if not math.isinf(v) else "inf"
        return str(v)

    lines = [f"class {s['class']}  (3D IoU >= {s['iou_threshold']}, {s['sequences']} sequence(s))"]
    lines.append("  ".join(f"{k:>7}" for k in _TABLE))
    lines.append("  ".join(f"{f(s[k]):>7}" for k in _TABLE))
    thr = "none (every result kept)" if s["best_threshold"] is None else f"{s['best_threshold']:.4g}"
    lines.append(
        f"best score threshold {thr}; TP {s['TP']}, MT {f(s['MT'])} %, ML {f(s['ML'])} %; "
        f"DetA {f(s['DetA'])}, AssA {f(s['AssA'])}, LocA {f(s['LocA'])}"
    )
    b = s["edit_breakdown"]
    lines.append(
        f"edit_ops {s['edit_ops']} (delete {b['deletes']}, reassign {b['reassigns']}, merge {b['merges']}, "
        f"add {b['adds']}) vs keyframe_ops {s['keyframe_ops']}: ratio {f(s['edit_ratio'])}"
    )
    if "review_load" in s:
        r = s["review"]
        lines.append(
            f"review_load {100 * s['review_load']:.2f} % ({r['queued_frames']}/{r['total_frames']} frames), "
            f"error_coverage {100 * s['error_coverage']:.2f} % ({r['covered_events']}/{r['error_events']} ID errors; "
            f"identity errors, the object back under another id: {r['identity_covered']}/{r['identity_events']})"
        )
    if s.get("gt_boxes") is not None:
        unseen = s.get("gt_without_points")
        lines.append(
            f"ground truth: {s['gt_boxes']} boxes"
            + ("" if unseen is None else f", {unseen} without a LiDAR point (ignored, as nuScenes does)")
            + (f"; class map {s['class_map']}" if s.get("class_map") else "")
        )
    for key, title in (("by_class", "class"), ("by_range", "range m")):
        rows = s.get(key) or {}
        if rows:
            cols = ("n_gt", "MOTA", "recall", "precision", "IDF1", "HOTA", "edit_ops", "keyframe_ops")
            lines.append(f"  {title:<12}" + "".join(f"{c:>13}" for c in cols))
            for name, r in rows.items():
                lines.append(f"  {name:<12}" + "".join(f"{f(r[c]):>13}" for c in cols))
    return "\n".join(lines)


def evaluate(
    fmt: str = typer.Option(..., "--format", help="kitti or native."),
    gt: Path = typer.Option(..., "--gt", help="KITTI label folder, or a native recording with ground truth."),
    results: Path = typer.Option(
        ..., "--results", help="KITTI results folder, or a native label file (or a prelabel output folder)."
    ),
    seqmap: Path | None = typer.Option(None, "--seqmap", help="KITTI seqmap (required for --format kitti)."),
    cls: str | None = typer.Option(
        None, "--class", help="Car, Pedestrian or Cyclist (KITTI: required; native: all categories if omitted)."
    ),
    iou: float = typer.Option(0.25, "--iou", min=0.0, max=1.0, help="3D IoU a match needs."),
    class_map: str | None = typer.Option(
        None, "--class-map", help="native: rename classes on both sides first, e.g. Van=Car,Bus=Truck."
    ),
    all_gt: bool = typer.Option(
        False, "--all-gt", help="native: also score ground truth with no LiDAR point (ignored by default)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Score tracking results: sAMOTA, AMOTA, AMOTP, MOTA, MOTP, IDS, FRAG, FP, FN, IDF1, HOTA, edit effort."""
    from fusionlabel.quality.evaluation import evaluate_kitti, evaluate_native

    f = fmt.lower()
    if f == "kitti":
        if seqmap is None:
            raise typer.BadParameter("--seqmap is required for --format kitti", param_hint="--seqmap")
        if cls is None:
            raise typer.BadParameter("--class is required for --format kitti", param_hint="--class")
        if cls not in ("Car", "Pedestrian", "Cyclist"):
            raise typer.BadParameter(f"{cls!r}: KITTI tracking scores Car, Pedestrian or Cyclist", param_hint="--class")
        report = evaluate_kitti(gt, results, seqmap, cls, iou)
    elif f == "native":
        from fusionlabel.quality.evaluation import parse_class_map

        try:
            cmap = parse_class_map(class_map)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--class-map") from None
        report = evaluate_native(gt, results, cls, iou, class_map=cmap, seen_only=not all_gt)
    else:
        raise typer.BadParameter(f"unknown format {fmt!r}; use kitti or native", param_hint="--format")
    s = report.summary()
    if cls is not None and not s.get("n_gt") and not s.get("FP") and not s.get("TP"):
        raise typer.BadParameter(
            f"{cls!r}: no box of this class in the ground truth or the results", param_hint="--class"
        )
    if as_json:
        typer.echo(json.dumps(s, allow_nan=False))
    else:
        typer.echo(format_summary(s))


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
