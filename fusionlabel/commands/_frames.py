"""Frame numbers as a person reads and types them on the command line: numbered from 1, as the
window shows them (frame 1 is index 0 in every file and JSON output; ``docs/workflow.md``).

>>> shown(0)
1
>>> parse_frames("1, 4,5", "--frames")
[0, 3, 4]
"""

from __future__ import annotations

import typer


def shown(index: int) -> int:
    """The number a person sees for the 0-based frame ``index`` (the window's numbering)."""
    return int(index) + 1


def parse_frames(text: str, option: str) -> list[int]:
    """0-based indices of a comma-separated list of frames numbered from 1 (``"1,4"`` -> ``[0, 3]``).

    Raises
    ------
    typer.BadParameter : not a list of whole numbers, or a number below 1
    """
    try:
        nums = [int(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list of frame numbers", param_hint=option
        ) from None
    bad = [n for n in nums if n < 1]
    if bad:
        raise typer.BadParameter(
            f"frames are numbered from 1 (as the window shows them), not {bad[0]}", param_hint=option
        )
    return [n - 1 for n in nums]
