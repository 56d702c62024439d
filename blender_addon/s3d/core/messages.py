"""Error text for Blender's panel: worded for the add-on's settings, wrapped to the sidebar. No bpy.

The engine words its messages for any front end ("choose the CPU device"); the add-on names the
setting the user changes in Blender. The panel shows the whole message over several lines
(Blender's labels cut long text), and the Copy Error button copies it unchanged.
"""
from __future__ import annotations

import textwrap

# (what the engine or torch says, what a Blender user does about it); applied in order
REWORDINGS: tuple[tuple[str, str], ...] = (
    ("choose the CPU device", "set Device to CPU in the add-on preferences"),
    ("--device cpu", "Device: CPU in the add-on preferences"),
    ("try a lower mesh resolution", "try a lower Resolution in the S3D panel"),
)
HINTS: tuple[tuple[str, str], ...] = (
    ("CUDA out of memory", "set Device to CPU in the add-on preferences, or lower the Resolution"),
    ("CUDA error", "set Device to CPU in the add-on preferences"),
)
CHAR_WIDTH_PX = 7.0  # average width of a label character at UI scale 1 (Blender's default font, 11 pt)


def for_blender(message: str) -> str:
    """`message` with CLI wording replaced by the add-on's settings, and a hint where one helps."""
    text = str(message)
    for old, new in REWORDINGS:
        text = text.replace(old, new)
    for needle, hint in HINTS:
        if needle in text and hint not in text:
            text = f"{text.rstrip('. ')}; {hint}"
    return text


def chars_per_line(region_width_px: float, ui_scale: float = 1.0, padding_px: float = 40.0) -> int:
    """How many characters of label text fit in a sidebar `region_width_px` wide (at least 20)."""
    usable = max(0.0, float(region_width_px) - padding_px * ui_scale)
    return max(20, int(usable / (CHAR_WIDTH_PX * max(ui_scale, 0.1))))


def wrap(text: str, width: int) -> list[str]:
    """Every line of `text` wrapped to `width` characters, nothing dropped (long words and paths
    are broken); an empty text gives no lines."""
    lines: list[str] = []
    for para in str(text).splitlines():
        lines += textwrap.wrap(para, width, break_long_words=True, break_on_hyphens=False) or [""]
    return lines
