"""Ranking: the hits of all checks become findings, one per track and run of touching frames.

Hits of one track are sorted by their first frame and grouped while a hit's first frame is at
most one after the last frame of the group so far; a group becomes one :class:`Finding` whose
kinds (and reasons) are those of its hits by falling z, with ``score = max z / z_flag``. Findings
are ranked by score (highest first), then track id and frames.

Example
-------
>>> hits = [Hit("speed", 7, (3, 4), 6.0, "jump", ()), Hit("size", 7, (4,), 12.0, "longer", ()),
...         Hit("size", 2, (9,), 5.5, "wider", ())]
>>> [(f.track_id, f.frames, f.kinds, f.score) for f in rank_findings(hits, z_flag=5.0)]
[(7, (3, 4), ('size', 'speed'), 2.4), (2, (9,), ('size',), 1.1)]
"""

from __future__ import annotations

from collections.abc import Sequence

from fusionlabel.quality.qa.findings import Finding, Hit


def rank_findings(hits: Sequence[Hit], z_flag: float) -> list[Finding]:
    """One finding per track and run of touching frames; highest score first."""
    by_track: dict[int, list[Hit]] = {}
    for h in hits:
        by_track.setdefault(h.track_id, []).append(h)
    out: list[Finding] = []
    for tid, hs in by_track.items():
        hs.sort(key=lambda h: min(h.frames))
        groups: list[list[Hit]] = []
        for h in hs:
            if groups and min(h.frames) <= max(max(g.frames) for g in groups[-1]) + 1:
                groups[-1].append(h)
            else:
                groups.append([h])
        for g in groups:
            g.sort(key=lambda h: -h.z)
            kinds: list[str] = []
            reasons: list[str] = []
            for h in g:
                if h.kind not in kinds:
                    kinds.append(h.kind)
                    reasons.append(f"{h.kind}: {h.why} (z {h.z:.1f})")
            frames = tuple(sorted({f for h in g for f in h.frames}))
            others = tuple(sorted({o for h in g for o in h.other}))
            out.append(Finding(tid, frames, tuple(kinds), g[0].z / z_flag, "; ".join(reasons), others))
    out.sort(key=lambda f: (-f.score, f.track_id, f.frames))
    return out
