"""Sketch extraction: edge content, polyline tracing, styles, and the shared rasteriser."""
from __future__ import annotations

import numpy as np
import pytest

import training.data.sketches as sk
from training.data.render import View
from training.data.sample import render_sample, sample_view


def square_view(res: int = 32) -> View:
    labels = np.zeros((res, res), np.uint8)
    labels[8:24, 8:24] = 1
    labels[12:20, 12:20] = 2
    alpha = (labels > 0).astype(np.uint8)
    normals = np.zeros((res, res, 3), np.float32)
    normals[..., 2] = alpha
    return View(rgb=np.zeros((res, res, 3), np.uint8), labels=labels, depth=alpha * 2.5,
                alpha=alpha, normals=normals, camera=np.zeros(25, np.float32))


def test_edges_mark_boundaries_on_the_near_side():
    e = sk.edge_map(square_view())
    assert e[8, 8:24].all() and e[23, 8:24].all()  # silhouette: pixels of the head, not outside
    assert not e[7].any() and not e[24].any()
    assert e[11, 12:20].all()  # inner label boundary (equal depth: the upper/left pixel)
    assert not e[16, 16]


def test_polylines_follow_a_circle():
    yy, xx = np.mgrid[0:64, 0:64]
    ring = np.abs(np.hypot(yy - 32, xx - 32) - 20) < 0.7
    chains = sk.trace_polylines(ring)
    longest = max(chains, key=len)
    assert len(longest) > 0.8 * 2 * np.pi * 20 / 1.5
    r = np.hypot(longest[:, 0] - 32, longest[:, 1] - 32)
    assert np.abs(r - 20).max() < 1.5


@pytest.mark.parametrize("style", sk.STYLES)
def test_styles_draw_black_on_white_inside_the_head(style):
    s = render_sample("face", 7, 0, 64, sketch_style="contour")
    sketch, used = sk.make_sketch(sample_view(s), np.random.default_rng(0), style)
    assert used == style and sketch.shape == (64, 64) and sketch.dtype == np.float32
    ink = sketch < 0.5
    assert 0.02 < ink.mean() < 0.4
    assert np.median(sketch) > 0.95  # white paper
    from scipy import ndimage

    near_head = ndimage.binary_dilation(s.alpha > 0, iterations=4)
    assert ink[~near_head].sum() == 0


def test_polyline_styles_use_the_engine_rasteriser(monkeypatch):
    calls = []
    real = sk.rasterize_strokes

    def spy(strokes, size, **kw):
        calls.append((len(strokes), size))
        return real(strokes, size, **kw)

    monkeypatch.setattr(sk, "rasterize_strokes", spy)
    view = sample_view(render_sample("cat", 3, 0, 48, sketch_style="xdog"))
    rng = np.random.default_rng(1)
    sk.make_sketch(view, rng, "contour")
    sk.make_sketch(view, rng, "hand")
    assert len(calls) == 2 and all(n > 3 and size == 48 for n, size in calls)


def test_hand_drawn_strokes_vary_pressure_and_position():
    rng = np.random.default_rng(2)
    line = np.stack([np.linspace(5, 60, 40), np.full(40, 30.0)], 1)
    strokes = sk.handdrawn_strokes([line] * 10, 64, rng)
    assert strokes and all(s.shape[1] == 3 for s in strokes)
    pressure = np.concatenate([s[:, 2] for s in strokes])
    assert pressure.std() > 0.05
    assert max(np.abs(s[:, 1] - 30).max() for s in strokes) > 0.2  # wobble
