"""``fusionlabel export-model --out model.onnx [--weights model.pt]``: the learned detector as ONNX.

Writes the ``pillars`` network (the shipped weights, or a checkpoint from ``fusionlabel train`` /
``fusionlabel adapt``) as an ONNX model that meets the ``onnx`` detector's contract
(:mod:`fusionlabel.detect.onnx_detector`), then loads it back through that detector to check
the contract: ``fusionlabel prelabel REC --detector onnx --weights model.onnx`` runs it.
"""

from __future__ import annotations

from pathlib import Path

import typer


def export_model_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="The ONNX model to write (.onnx)."),
    weights: Path | None = typer.Option(None, "--weights", help="pillars checkpoint (default: the shipped one)."),
    max_objects: int = typer.Option(200, "--max-objects", min=1, help="Rows the model returns (top-K peaks)."),
) -> None:
    """Export the built-in learned detector (pillars) to ONNX for the `onnx` detector."""
    import warnings

    from fusionlabel.core.errors import DataError
    from fusionlabel.detect.onnx_detector import create
    from fusionlabel.detect.pillars import DEFAULT_WEIGHTS
    from fusionlabel.detect.pillars.export import export_onnx

    src = weights if weights is not None else DEFAULT_WEIGHTS
    if not out.parent.exists():
        raise DataError(out, "output folder does not exist")
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notes
        warnings.simplefilter("ignore")
        path = export_onnx(src, out, max_objects)
    try:
        det = create(path, device="cpu")
    except ImportError as exc:
        print(f"wrote {path}; not checked: {exc}")
        return
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) from {src.name}: classes {', '.join(det.info.classes)}, "
        f"input (N, {det.features}) points, outputs boxes / scores / labels (top {max_objects}); "
        f"run it with --detector onnx --weights {path}"
    )


def register(app: typer.Typer) -> None:
    app.command("export-model")(export_model_cmd)
