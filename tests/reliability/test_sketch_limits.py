"""Hostile sketch inputs (issue 11, part A): pixel budget before decoding, thin images, special
files, NaN arrays and masks, malformed strokes. Each asserts the exact one-line message."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image, ImageFile

from s3d_engine import limits
from s3d_engine.errors import SketchError
from s3d_engine.sketch import label_map_array, load_sketch_image, normalize_sketch, rasterize_strokes

from .conftest import peak_rss_mb, png_header_only


def refused(source, message: str, size: int = 32, **kwargs) -> None:
    with pytest.raises(SketchError) as info:
        normalize_sketch(source, size, **kwargs)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------
# Pixel budget, from the header
# ---------------------------------------------------------------------------------------------


@pytest.fixture()
def no_decoding(monkeypatch):
    """Fail the test if any image data is decoded."""
    calls = []

    def spy(self, *args, **kwargs):
        calls.append(self.size)
        raise AssertionError("the decoder was asked for pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return calls


def test_an_image_over_the_pixel_budget_is_refused_from_its_header(tmp_path, no_decoding):
    path = tmp_path / "scan.png"
    path.write_bytes(png_header_only(9000, 9000))
    refused(path, f"sketch image {path} is 9000 x 9000 = 81.0 Mpx, over the 67.1 Mpx limit: "
                  "scale it down (8192 x 8192 at most)")
    assert no_decoding == []


def test_a_decompression_bomb_is_one_line_not_a_pil_traceback(tmp_path, no_decoding):
    path = tmp_path / "bomb.png"  # 30000^2 = 900 Mpx: PIL itself raises DecompressionBombError
    path.write_bytes(png_header_only(30000, 30000))
    refused(path, f"sketch image {path} is over the 67.1 Mpx limit: scale it down (8192 x 8192 at most)")
    assert no_decoding == []


def test_a_side_over_the_limit_is_refused(tmp_path, no_decoding):
    path = tmp_path / "strip.png"
    path.write_bytes(png_header_only(70000, 16))
    refused(path, f"sketch image {path} is 70000 x 16 pixels; the longest side may be at most 65536: "
                  "crop or scale it down")


def test_a_pil_image_and_an_array_over_the_budget_are_refused_before_conversion():
    big = Image.new("1", (9000, 9000))  # 81 Mpx at one byte per pixel in memory
    refused(big, "sketch image is 9000 x 9000 = 81.0 Mpx, over the 67.1 Mpx limit: scale it down (8192 x 8192 at most)")
    view = np.broadcast_to(np.zeros(1, np.float64), (9000, 9000))  # no memory until converted
    refused(view, "sketch array (9000, 9000) is 9000 x 9000 = 81.0 Mpx, over the 67.1 Mpx limit: "
                  "scale it down (8192 x 8192 at most)")


def test_a_long_thin_png_is_shrunk_before_padding_and_stays_small(tmp_path):
    strip = np.full((20000, 16), 255, np.uint8)
    strip[:, 4:12] = 0
    path = tmp_path / "thin.png"
    Image.fromarray(strip).save(path, optimize=True)
    assert path.stat().st_size < 1000  # the 928-byte case of the issue
    code = (f"from s3d_engine.sketch import normalize_sketch\n"
            f"out = normalize_sketch({str(path)!r}, 512)\n"
            "result['shape'] = list(out.shape); result['ink'] = float(out.min())")
    peak, result = peak_rss_mb(code)
    assert result["shape"] == [512, 512] and result["ink"] < 0.7
    # Padding first made a 20000^2 float square (1.6 GB) and took 5.5 GB; shrinking first stays tiny.
    assert peak < 300, f"peak {peak:.0f} MB"


def test_an_image_at_the_pixel_budget_stays_under_3_gb(tmp_path):
    side = 8192  # exactly MAX_SKETCH_PIXELS, in the mode that costs most (RGBA, 4 bytes per pixel)
    assert side * side == limits.MAX_SKETCH_PIXELS
    img = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    img.paste((0, 0, 0, 255), (1000, 4000, 7000, 4200))
    path = tmp_path / "big.png"
    img.save(path, compress_level=1)
    del img
    code = (f"from s3d_engine.sketch import normalize_sketch\n"
            f"out = normalize_sketch({str(path)!r}, 512)\n"
            "result['ink'] = float(out.min())")
    peak, result = peak_rss_mb(code)
    assert result["ink"] < 0.2
    assert peak < 3 * 1024, f"peak {peak:.0f} MB"


# ---------------------------------------------------------------------------------------------
# Special files and bounded reads
# ---------------------------------------------------------------------------------------------


def test_special_files_are_refused_without_reading(tmp_path):
    refused("/dev/zero", "sketch file is not a regular file (a device, pipe or socket): /dev/zero")
    link = tmp_path / "zero.png"
    link.symlink_to("/dev/zero")
    refused(link, f"sketch file is not a regular file (a device, pipe or socket): {link}")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it for reading without O_NONBLOCK would block forever
    refused(fifo, f"sketch file is not a regular file (a device, pipe or socket): {fifo}")
    refused(tmp_path, f"sketch file is a folder, not a file: {tmp_path}")
    refused(tmp_path / "missing.png", f"sketch file not found: {tmp_path / 'missing.png'}")


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.png"
    with open(path, "wb") as handle:  # sparse: no disk used
        handle.truncate(limits.MAX_SKETCH_FILE_BYTES + 1)
    refused(path, f"sketch file is too large: {limits.MAX_SKETCH_FILE_BYTES + 1:,} bytes, the limit is "
                  f"{limits.MAX_SKETCH_FILE_BYTES:,}: {path}")


def test_truncated_and_corrupt_images_are_one_line(tmp_path):
    img = Image.new("L", (64, 64), 255)
    img.paste(0, (10, 10, 50, 20))
    path = tmp_path / "cut.png"
    img.save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(SketchError, match=r"^cannot read sketch image .*cut\.png: "):
        normalize_sketch(path, 32)
    with pytest.raises(SketchError, match=r"^cannot read sketch image <bytes>: "):
        load_sketch_image(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)


# ---------------------------------------------------------------------------------------------
# NaN, masks, strokes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("array", [
    np.full((16, 16), np.nan, np.float32),
    np.where(np.eye(16) > 0, np.inf, 1.0),
    np.dstack([np.ones((16, 16))] * 2 + [np.full((16, 16), np.nan)]),  # RGB used to skip the check
])
def test_nan_and_inf_arrays_are_refused_not_made_background(array):
    refused(array, "sketch array contains NaN or infinite values; give values in 0..1 or 0..255")


def test_a_nan_float_image_is_refused(tmp_path):
    data = np.ones((16, 16), np.float32)
    data[3, 3] = np.nan
    refused(Image.fromarray(data), "sketch image contains NaN or infinite values")


@pytest.mark.parametrize("mask, message", [
    (np.full((16, 16), np.nan), "label map contains NaN or infinite values; give integer part labels"),
    (np.full((16, 16), 1.5), "label map contains fractional values; give integer part labels"),
    (np.full((16, 16), 19), "label values must lie in 0..18"),
    (np.full((16, 16), -1), "label values must lie in 0..18"),
    (np.array([["a"] * 16] * 16), "a label map must hold integer labels, got text"),
    (np.zeros((2, 16, 16)), "a label map must be a non-empty 2-D array, got shape (2, 16, 16)"),
])
def test_bad_label_maps_get_one_line(mask, message):
    with pytest.raises(SketchError) as info:
        label_map_array(mask, 19)
    assert str(info.value) == message


def test_a_good_label_map_passes_through():
    mask = np.arange(16 * 16).reshape(16, 16) % 19
    assert np.array_equal(label_map_array(mask.astype(np.float64), 19), mask.astype(np.uint8))


POINTS = "must be a list of [x, y] or [x, y, pressure] points"


@pytest.mark.parametrize("strokes, message", [
    ([[[0, 0], [1]]], f"stroke 0 {POINTS}: its points are ragged or malformed"),
    ([[[0, 0], [1, 1]], [[0, 0], [1, 1, 1, 1, 1]], [[0, 1]]], f"stroke 1 {POINTS}: its points are ragged or malformed"),
    ([[["a", "b"], ["c", "d"]]], f"stroke 0 {POINTS}, got text instead of numbers"),
    (["abc"], f"stroke 0 {POINTS}, got str"),
    ([[[0, 0], [1, 1]], {"x": 1}], f"stroke 1 {POINTS}, got dict"),
    ([[[0, None], [1, 1]]], f"stroke 0 {POINTS}, got mixed objects instead of numbers"),
    ([[[0, 2**80], [1, 1]]], f"stroke 0 {POINTS}, got mixed objects instead of numbers"),
    ([[[0, 0], [1, float("nan")]]], "stroke 0 has non-finite coordinates (NaN or infinity)"),
    ([[[0, 0, 0, 0]]], "stroke 0 must be an (N, 2) or (N, 3) array of points, got shape (1, 4)"),
    ([[[-1e308, 0], [1e308, 1]]], "strokes span too large a range of coordinates (over 1e300); rescale them"),
    ("strokes", None),  # a string is a path, not a stroke list: "not found"
])
def test_malformed_strokes_name_the_stroke(strokes, message):
    with pytest.raises(SketchError) as info:
        normalize_sketch(strokes, 32)
    if message is not None:
        assert str(info.value) == message


def test_stroke_count_limits(monkeypatch):
    monkeypatch.setattr("s3d_engine.sketch.MAX_STROKES", 3)
    monkeypatch.setattr("s3d_engine.sketch.MAX_STROKE_POINTS", 10)
    line = [[0, 0], [1, 1]]
    refused([line] * 4, "4 strokes; the limit is 3")
    refused([[[0, 0]] * 11], "stroke 0 has 11 points; the limit is 10")
    refused([[[0, 0]] * 6, [[1, 1]] * 6], "the strokes have over 10 points in all; simplify the drawing")


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 0}, "sketch size must be an integer in 1..2048, got 0"),
    ({"size": 10**6}, "sketch size must be an integer in 1..2048, got 1000000"),
    ({"size": 32.0}, "sketch size must be an integer in 1..2048, got 32.0"),
    ({"width": float("nan")}, "stroke width must be a number above 0 .. 0.5, got nan"),
    ({"width": 0.0}, "stroke width must be a number above 0 .. 0.5, got 0.0"),
    ({"width": 1e9}, "stroke width must be a number above 0 .. 0.5, got 1000000000.0"),
    ({"supersample": 100}, "supersample must be an integer in 1..8, got 100"),
])
def test_rasteriser_parameters_are_checked(kwargs, message):
    args = {"size": 32, **kwargs}
    with pytest.raises(SketchError) as info:
        rasterize_strokes([[[0.2, 0.2], [0.8, 0.8]]], **args)
    assert str(info.value) == message


def test_points_far_outside_the_canvas_are_refused():
    with pytest.raises(SketchError) as info:
        rasterize_strokes([[[0.2, 0.2], [0.8, 0.8]], [[0.0, 0.0], [5e3, 1.0]]], 32)
    assert str(info.value) == "stroke 1 lies far outside the canvas (beyond 1000 image sides)"
    out = rasterize_strokes([[[0.5, 0.5], [900.0, 0.5]]], 32)  # far, but within the limit: drawn and clipped
    assert out.shape == (32, 32) and out[15:17, 31].min() < 0.6


def test_shrinking_before_padding_keeps_the_framing():
    # A wide image keeps its aspect ratio, centred vertically on white paper.
    wide = np.ones((40, 160), np.float32)
    wide[18:22, 20:140] = 0.0
    out = normalize_sketch(wide, 32, fit="frame")
    rows = np.nonzero((out < 0.75).any(axis=1))[0]
    cols = np.nonzero((out < 0.75).any(axis=0))[0]
    # 40 x 160 -> 8 x 32, padded by 12 rows above and below: source rows 18..21 -> 15..16
    assert rows.tolist() == [15, 16]
    assert cols.min() == 4 and cols.max() == 27  # columns 20..139 of 160 -> 4..27 of 32
    assert out.dtype == np.float32
