"""Draw the two example sketches (a face and a cat) as stroke polylines, with the engine's own
rasteriser, exactly as strokes arriving from Blender would be drawn."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from s3d_engine.sketch import rasterize_strokes


def arc(cx, cy, rx, ry, a0, a1, n=40, pressure=1.0):
    t = np.linspace(a0, a1, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t), np.full(n, pressure)], 1)


def face() -> list[np.ndarray]:
    pi = np.pi
    return [
        arc(0.5, 0.47, 0.25, 0.33, 0.05 * pi, 0.95 * pi),  # jaw and cheeks
        arc(0.5, 0.45, 0.30, 0.36, 1.0 * pi, 2.0 * pi, pressure=1.2),  # hair outline
        arc(0.5, 0.30, 0.24, 0.10, 0.0, pi, pressure=0.8),  # hairline
        arc(0.40, 0.46, 0.05, 0.022, 0, 2 * pi, 24),  # eyes
        arc(0.60, 0.46, 0.05, 0.022, 0, 2 * pi, 24),
        arc(0.40, 0.42, 0.06, 0.02, 1.1 * pi, 1.9 * pi, 16, 1.3),  # brows
        arc(0.60, 0.42, 0.06, 0.02, 1.1 * pi, 1.9 * pi, 16, 1.3),
        np.array([[0.5, 0.48, 1], [0.48, 0.58, 1], [0.52, 0.59, 1]]),  # nose
        arc(0.5, 0.66, 0.08, 0.025, 0.1 * np.pi, 0.9 * np.pi, 20),  # lips
        np.array([[0.42, 0.665, 1], [0.5, 0.655, 1], [0.58, 0.665, 1]]),
        arc(0.24, 0.50, 0.03, 0.07, 0.5 * pi, 1.5 * pi, 16),  # ears
        arc(0.76, 0.50, 0.03, 0.07, -0.5 * pi, 0.5 * pi, 16),
        np.array([[0.40, 0.78, 1], [0.40, 0.95, 1]]),  # neck
        np.array([[0.60, 0.78, 1], [0.60, 0.95, 1]]),
        np.array([[0.15, 0.99, 1], [0.28, 0.90, 1], [0.40, 0.92, 1]]),  # shoulders
        np.array([[0.60, 0.92, 1], [0.72, 0.90, 1], [0.85, 0.99, 1]]),
    ]


def cat() -> list[np.ndarray]:
    pi = np.pi
    return [
        arc(0.5, 0.55, 0.32, 0.28, 0.0, 2 * pi, 60),  # head
        np.array([[0.24, 0.40, 1], [0.22, 0.12, 1], [0.40, 0.30, 1]]),  # ears
        np.array([[0.60, 0.30, 1], [0.78, 0.12, 1], [0.76, 0.40, 1]]),
        arc(0.39, 0.50, 0.06, 0.04, 0, 2 * pi, 24),  # eyes
        arc(0.61, 0.50, 0.06, 0.04, 0, 2 * pi, 24),
        np.array([[0.47, 0.60, 1], [0.53, 0.60, 1], [0.5, 0.64, 1], [0.47, 0.60, 1]]),  # nose
        np.array([[0.5, 0.64, 1], [0.5, 0.68, 1]]),
        arc(0.46, 0.68, 0.04, 0.03, 0.0, pi, 12),  # mouth
        arc(0.54, 0.68, 0.04, 0.03, 0.0, pi, 12),
        np.array([[0.30, 0.62, 0.6], [0.12, 0.60, 0.4]]),  # whiskers
        np.array([[0.70, 0.62, 0.6], [0.88, 0.60, 0.4]]),
    ]


def main() -> None:
    here = Path(__file__).resolve().parent
    for name, strokes in (("face", face()), ("cat", cat())):
        img = rasterize_strokes(strokes, 512, width=3.0 / 512)
        Image.fromarray((img * 255 + 0.5).astype(np.uint8)).save(here / f"{name}_sketch.png", optimize=True)


if __name__ == "__main__":
    main()
