"""Save and load of a large label file: what Ctrl+S costs the annotator on a long recording.

A label set of ``--frames`` frames with ``--boxes`` boxes each (default 3,000 x 50 = 150,000
boxes: 200 s of a 15 Hz recording in traffic), random but fixed (seed 0). Printed, each the median
of ``--repeat`` runs on this machine:

* ``labels_text``: the label file's text (the document built from the arrays, then
  ``json.dumps(indent=1)``), beside the baseline: a compact ``json.dumps`` of the same document,
  already built (the bare C encoder: the floor of any JSON writer);
* ``session.save`` of a session loaded from that file (the on-disk version check, the save
  marker, the work digest, the label file) and ``session.load``.

Before 2026-12-08, ``session.save`` parsed the label file again before writing it (already
parsed at load when its on-disk version is unchanged) and built the document one numpy scalar at
a time: a second save of 150,000 boxes took 6.1 / 6.3 s before and 4.1 / 3.9 s after (two runs
each, alternating, same machine, 2 cores; a one-off script over ``session.save``).

Run: ``.venv/bin/python benchmarks/bench_save.py [--frames N] [--boxes N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def label_set(frames: int, boxes: int) -> object:
    from fusionlabel.core.boxes import Boxes
    from fusionlabel.core.labels import FrameLabels, LabelSet

    rng = np.random.default_rng(0)
    out = {}
    for k in range(frames):
        a = np.c_[
            rng.uniform(-80, 80, (boxes, 2)),
            rng.uniform(0.5, 1.0, boxes),
            rng.uniform(3.5, 5.0, boxes),
            rng.uniform(1.6, 2.1, boxes),
            rng.uniform(1.4, 1.9, boxes),
            rng.uniform(-np.pi, np.pi, boxes),
        ]
        out[k] = FrameLabels(np.arange(boxes), ["Car"] * boxes, Boxes.from_array(a), rng.uniform(0, 1, boxes))
    return LabelSet(out)


def timed(fn: object, repeat: int) -> float:
    xs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        xs.append(time.perf_counter() - t0)
    return statistics.median(xs)


def main(argv: list[str]) -> int:
    from fusionlabel.io import session as S
    from fusionlabel.io.native_labels import labels_text, labels_to_dict

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--boxes", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    labels = label_set(args.frames, args.boxes)
    n = args.frames * args.boxes
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labels.json"
        t_text = timed(lambda: labels_text(labels, path), args.repeat)  # type: ignore[arg-type]
        doc = labels_to_dict(labels)  # type: ignore[arg-type]
        t_base = timed(lambda: json.dumps(doc), args.repeat)
        S.save(S.SessionState(labels), path, check=False)  # type: ignore[arg-type]
        size = path.stat().st_size
        t_load = timed(lambda: S.load(path), args.repeat)
        state = S.load(path)
        t_save = timed(lambda: S.save(state, path), args.repeat)  # the file stays the loaded one: same base
    print(f"label file: {args.frames} frames x {args.boxes} boxes = {n:,} boxes, {size / 1e6:.1f} MB")
    print(f"  labels_text (document + indented JSON)          {t_text:6.2f} s")
    print(f"  baseline: compact json.dumps of the built document {t_base:6.2f} s")
    print(f"  session.save (check, marker, label file)       {t_save:6.2f} s")
    print(f"  session.load                                    {t_load:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
