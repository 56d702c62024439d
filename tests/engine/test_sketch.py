import numpy as np
import pytest
from PIL import Image

from s3d_engine.errors import SketchError
from s3d_engine.sketch import normalize_sketch, rasterize_strokes


def test_rasterizer_draws_black_on_white_with_pressure():
    img = rasterize_strokes([[(0.1, 0.5, 1.0), (0.9, 0.5, 1.0)], [(0.5, 0.1, 3.0), (0.5, 0.3, 3.0)]], 64, width=0.03)
    assert img.shape == (64, 64) and img.dtype == np.float32
    assert img[0, 0] == 1.0 and img[32, 32] < 0.2  # paper is white, the stroke is dark
    thin = (img[:, 10] < 0.5).sum()
    thick = (img[12, :] < 0.5).sum()
    assert thick > thin  # pressure widens strokes


def test_normalize_inverts_white_on_black_and_pads_to_square(tmp_path):
    arr = np.zeros((40, 80), np.uint8)
    arr[18:22, 10:70] = 255  # white stroke on black
    path = tmp_path / "s.png"
    Image.fromarray(arr).save(path)
    out = normalize_sketch(path, 32)
    assert out.shape == (32, 32)
    assert out[0, 0] > 0.9 and out[16, 16] < 0.5


def test_content_fit_centres_strokes():
    strokes = [np.array([[10.0, 10.0], [12.0, 11.0]]), np.array([[11.0, 14.0], [13.0, 14.0]])]
    out = normalize_sketch(strokes, 64)
    rows, cols = np.nonzero(out < 0.9)
    assert abs(rows.mean() - 32) < 6 and abs(cols.mean() - 32) < 6
    assert rows.min() > 2 and rows.max() < 61


@pytest.mark.parametrize("bad, message", [
    (np.ones((64, 64)), "empty"),
    (np.ones((4, 4)), "too small"),
    ([], "no strokes"),
    ([np.zeros((3, 5))], "stroke 0"),
])
def test_bad_sketches_get_clear_errors(bad, message):
    with pytest.raises(SketchError, match=message):
        normalize_sketch(bad, 32)


def test_unreadable_and_missing_files(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    with pytest.raises(SketchError, match="cannot read"):
        normalize_sketch(broken, 32)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(SketchError, match="0 bytes"):
        normalize_sketch(empty, 32)
    with pytest.raises(SketchError, match="not found"):
        normalize_sketch(tmp_path / "nope.png", 32)
