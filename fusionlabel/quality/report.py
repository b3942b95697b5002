"""The label QA report: a track timeline with the findings, as PNG or self-contained HTML.

The timeline has one row per track (sorted by first frame), a bar over the frames where the
track is labelled, and a marker per finding (colour by check, size by score). The HTML report
embeds that figure (base64 PNG) above a table of the findings, ranked by score.
matplotlib (Agg backend) is imported only inside these functions.

Example
-------
>>> write_qa_report(report, labels, "qa.html")          # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from fusionlabel.core.atomic import atomic_write_bytes, atomic_write_text
from fusionlabel.core.labels import LabelSet
from fusionlabel.quality.label_qa import KINDS, QAReport

_COLOURS = dict(
    zip(KINDS, ("tab:orange", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:blue"))
)


def timeline_png(report: QAReport, labels: LabelSet, title: str = "label QA", dpi: int = 100) -> bytes:
    """The track timeline with the findings as a PNG (bytes)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    tracks: dict[int, list[int]] = {}
    for k, fl in labels.frames.items():
        for t in fl.track_ids:
            tracks.setdefault(int(t), []).append(k)
    order = sorted(tracks, key=lambda t: (min(tracks[t]), t))
    row = {t: i for i, t in enumerate(order)}
    h = min(40.0, 1.5 + 0.12 * len(order))
    fig, ax = plt.subplots(figsize=(11, h))
    try:
        for t, fr in tracks.items():
            f = np.sort(np.asarray(fr))
            # runs of consecutive frames as horizontal bars
            cut = np.flatnonzero(np.diff(f) != 1) + 1
            for run in np.split(f, cut):
                ax.broken_barh([(run[0] - 0.5, run[-1] - run[0] + 1)], (row[t] - 0.35, 0.7), color="0.75")
        seen: set[str] = set()
        for fd in report.findings:
            if fd.track_id not in row:
                continue
            kind = fd.kinds[0]
            ax.scatter(
                [float(np.mean(fd.frames))],
                [row[fd.track_id]],
                s=20 + 30 * min(fd.score, 5.0),
                color=_COLOURS.get(kind, "k"),
                edgecolors="k",
                linewidths=0.5,
                zorder=3,
                label=kind if kind not in seen else None,
            )
            seen.add(kind)
        ax.set_xlabel("frame")
        ax.set_ylabel("track")
        step = max(1, len(order) // 40)
        ax.set_yticks(range(0, len(order), step))
        ax.set_yticklabels([str(order[i]) for i in range(0, len(order), step)], fontsize=7)
        ax.set_ylim(-1, max(len(order), 1))
        ax.invert_yaxis()
        ax.set_title(f"{title}: {len(report.findings)} findings, {report.num_boxes} boxes, {report.num_tracks} tracks")
        if seen:
            ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buf.getvalue()


def qa_html(report: QAReport, labels: LabelSet, title: str = "label QA") -> str:
    """A self-contained HTML page: the timeline and the ranked findings."""
    png = base64.b64encode(timeline_png(report, labels, title)).decode("ascii")
    rows = "\n".join(
        "<tr><td>{}</td><td>{:.2f}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            i + 1,
            f.score,
            f.track_id,
            html.escape(", ".join(str(x) for x in f.frames)),
            html.escape(", ".join(f.kinds)),
            html.escape(f.reason),
        )
        for i, f in enumerate(report.findings)
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px;vertical-align:top}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{report.num_boxes} boxes, {report.num_tracks} tracks; checks: {html.escape(", ".join(report.checks))};
{len(report.findings)} findings (score = robust z / flag threshold; 1 = just flagged).</p>
<img alt="track timeline" src="data:image/png;base64,{png}">
<table><tr><th>#</th><th>score</th><th>track</th><th>frames</th><th>checks</th><th>reason</th></tr>
{rows}
</table></body></html>
"""


def write_qa_report(report: QAReport, labels: LabelSet, path: str | Path, title: str | None = None) -> None:
    """Write ``path`` (``.png``: the timeline; ``.html``/``.htm``: the full page), atomically.

    Raises
    ------
    ValueError : another suffix
    """
    path = Path(path)
    t = title or path.stem
    suffix = path.suffix.lower()
    if suffix == ".png":
        atomic_write_bytes(path, timeline_png(report, labels, t))
    elif suffix in (".html", ".htm"):
        atomic_write_text(path, qa_html(report, labels, t))
    else:
        raise ValueError(f"report must be .html or .png, not {path.name!r}")
