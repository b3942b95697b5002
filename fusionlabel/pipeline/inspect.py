"""What a recording holds, how well it is synchronised, what is broken: the report of
``fusionlabel info`` (and of ``fusionlabel open`` without a display).

:func:`check_frames` loads frames and collects per-file problems instead of stopping,
:func:`summarize` turns a recording and that check into plain JSON data, :func:`print_summary`
prints it as tables.

Example
-------
>>> from fusionlabel.io.open import SAMPLE, open_recording
>>> rec = open_recording(SAMPLE)
>>> s = summarize(rec, check_frames(rec, [0, 1]))
>>> s["frames"], s["problems"]
(20, [])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusionlabel.core.errors import DataError
from fusionlabel.core.recording import Recording


@dataclass
class FrameCheck:
    checked: list[int] = field(default_factory=list)
    points: list[int] = field(default_factory=list)
    problems: list[DataError] = field(default_factory=list)


def check_frames(rec: Recording, indices: list[int], decode_images: bool = True, progress: bool = False) -> FrameCheck:
    """Load the given frames (and decode their images); collect per-file problems instead of stopping."""
    out = FrameCheck()
    it: Any = indices
    if progress and len(indices) > 20:
        from rich.progress import track

        it = track(indices, description="checking frames", transient=True)
    for i in it:
        try:
            fr = rec.frame(i)
        except DataError as exc:
            out.problems.append(exc)
            continue
        out.checked.append(i)
        out.points.append(sum(len(c) for c in fr.lidar.values()))
        if decode_images:
            for ref in fr.images.values():
                try:
                    ref.load()
                except DataError as exc:
                    out.problems.append(exc)
    return out


def recording_problems(rec: Recording) -> list[DataError]:
    """What the reader could not see but its result shows: extrinsics that are not rigid
    transforms (:func:`~fusionlabel.core.calibration.rig_problems`) and streams whose timestamps
    go backwards or repeat (:meth:`~fusionlabel.core.recording.Recording.time_order_problems`)."""
    from fusionlabel.core.calibration import rig_problems

    return [*rig_problems(rec.rig, rec.path), *rec.time_order_problems()]


def sample_indices(n: int, limit: int | None) -> list[int]:
    if limit is None or n <= limit:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, limit).round().astype(int).tolist()))


def summarize(rec: Recording, check: FrameCheck | None = None) -> dict[str, Any]:
    """A JSON-serialisable summary of ``rec`` (what ``info --json`` prints)."""
    t = rec.timestamps_ns
    streams = []
    for name, s in rec.streams.items():
        entry: dict[str, Any] = {"name": name, "kind": s.kind, "samples": len(s), "rate_hz": round(s.rate_hz, 3)}
        if name == rec.reference:
            entry["reference"] = True
        else:
            sy = rec.sync[name]
            entry["sync"] = {
                "matched_frames": sy.matched,
                "unmatched_frames": len(sy.unmatched_frames),
                "unused_samples": len(sy.unused),
                "max_offset_ms": round(sy.max_abs_offset_ns / 1e6, 3),
                "mean_offset_ms": round(sy.mean_abs_offset_ns / 1e6, 3),
            }
        streams.append(entry)
    calib: dict[str, Any] = {}
    for name, cam in rec.rig.cameras.items():
        calib[name] = {
            "kind": "camera",
            "model": cam.model,
            "image_size": [cam.width, cam.height],
            "fx_fy_cx_cy": [round(float(v), 3) for v in (cam.K[0, 0], cam.K[1, 1], cam.K[0, 2], cam.K[1, 2])],
            "distortion": [round(float(v), 6) for v in cam.D],
            "position_in_ego_m": [round(float(v), 3) for v in cam.T_ego_cam.translation],
        }
    for name, lid in rec.rig.lidars.items():
        calib[name] = {"kind": "lidar", "position_in_ego_m": [round(float(v), 3) for v in lid.T_ego_lidar.translation]}
    for name, rad in rec.rig.radars.items():
        calib[name] = {"kind": "radar", "position_in_ego_m": [round(float(v), 3) for v in rad.T_ego_radar.translation]}
    out: dict[str, Any] = {
        "path": str(rec.path),
        "format": rec.format,
        "frames": len(rec),
        "reference": rec.reference,
        "rate_hz": round(rec.streams[rec.reference].rate_hz, 3) if rec.reference in rec.streams else 0.0,
        "start_ns": int(t.min()) if len(t) else None,
        "end_ns": int(t.max()) if len(t) else None,
        "duration_s": round(rec.duration_s, 3),
        "sync_tolerance_ms": rec.tolerance_ns / 1e6,
        "streams": streams,
        "calibration": calib,
        "ego_poses": len(rec.ego_poses) if rec.ego_poses is not None else 0,
    }
    problems = [str(p) for p in (*rec.problems, *recording_problems(rec))]
    try:
        labels = rec.labels
    except DataError as exc:
        labels = None
        problems.append(str(exc))
    if labels is not None:
        out["labels"] = {
            "frames": len(labels),
            "boxes": labels.num_boxes,
            "tracks": len(labels.track_ids),
            "tracks_by_category": labels.category_counts(),
        }
    if check is not None:
        out["frames_checked"] = len(check.checked) + len({p.path for p in check.problems})
        if check.points:
            out["lidar_points_per_frame"] = {
                "min": int(np.min(check.points)),
                "median": int(np.median(check.points)),
                "max": int(np.max(check.points)),
            }
        problems += [str(p) for p in check.problems]
    out["problems"] = problems
    return out


def print_summary(s: dict[str, Any]) -> None:
    import shutil

    from rich.console import Console
    from rich.table import Table

    # piped output (no terminal) gets a wide fixed width instead of rich's 80 columns
    con = Console(soft_wrap=True, width=shutil.get_terminal_size((160, 40)).columns)
    con.print(f"[bold]{s['path']}[/bold]  format: {s['format']}")
    if s["frames"]:
        con.print(
            f"frames: {s['frames']}  reference: {s['reference']} at {s['rate_hz']} Hz  "
            f"span: {s['duration_s']} s  (start {s['start_ns']} ns)"
        )
    else:
        con.print("frames: 0")
    tab = Table(title=f"sensors (sync tolerance {s['sync_tolerance_ms']} ms)", title_justify="left")
    for col in (
        "sensor",
        "kind",
        "samples",
        "rate Hz",
        "matched",
        "unmatched frames",
        "unused samples",
        "max |dt| ms",
        "mean |dt| ms",
    ):
        tab.add_column(col)
    for st in s["streams"]:
        sy = st.get("sync")
        if sy is None:
            cells = ["reference", "-", "-", "0", "0"]
        else:
            cells = [
                str(sy["matched_frames"]),
                str(sy["unmatched_frames"]),
                str(sy["unused_samples"]),
                str(sy["max_offset_ms"]),
                str(sy["mean_offset_ms"]),
            ]
        tab.add_row(st["name"], st["kind"], str(st["samples"]), str(st["rate_hz"]), *cells)
    con.print(tab)
    if s["calibration"]:
        ct = Table(title="calibration", title_justify="left")
        for col in ("sensor", "kind", "intrinsics", "position in ego (m)"):
            ct.add_column(col)
        for name, c in s["calibration"].items():
            intr = ""
            if c["kind"] == "camera":
                intr = f"{c['model']} {c['image_size'][0]}x{c['image_size'][1]} f/c={c['fx_fy_cx_cy']}"
                if any(c["distortion"]):
                    intr += f" D={c['distortion']}"
            ct.add_row(name, c["kind"], intr, str(c["position_in_ego_m"]))
        con.print(ct)
    else:
        con.print("calibration: none found")
    con.print(f"ego poses: {s['ego_poses'] or 'none'}")
    if "labels" in s:
        lab = s["labels"]
        con.print(
            f"labels: {lab['tracks']} tracks, {lab['boxes']} boxes in {lab['frames']} frames {lab['tracks_by_category']}"
        )
    if "lidar_points_per_frame" in s:
        p = s["lidar_points_per_frame"]
        con.print(
            f"checked {s['frames_checked']} frames: LiDAR points per frame min {p['min']} median {p['median']} max {p['max']}"
        )
    if s["problems"]:
        con.print(f"[bold red]{len(s['problems'])} problem(s):[/bold red]")
        for p in s["problems"]:
            con.print(f"  - {p}", markup=False, highlight=False)
    else:
        con.print("[green]no problems found[/green]")
