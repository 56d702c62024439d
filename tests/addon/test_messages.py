"""Error text for the panel (pure Python)."""
from s3d.core import messages


def test_engine_wording_becomes_the_addons_settings():
    got = messages.for_blender("device 'cuda' was requested but no CUDA GPU is available; choose the CPU device")
    assert got.endswith("set Device to CPU in the add-on preferences") and "choose the CPU" not in got
    assert "--device" not in messages.for_blender("run with --device cpu")
    assert messages.for_blender("out of memory while generating; try a lower mesh resolution").endswith(
        "try a lower Resolution in the S3D panel")
    oom = messages.for_blender("CUDA out of memory. Tried to allocate 2.00 GiB.")
    assert oom.endswith("; set Device to CPU in the add-on preferences, or lower the Resolution")
    assert messages.for_blender(oom) == oom  # idempotent
    assert messages.for_blender("plain error") == "plain error"


def test_wrap_keeps_every_character():
    text = "engine Python not found: '/a/very/long/path/to/some/python/interpreter/bin/python3.11'; fix it\nsecond line"
    lines = messages.wrap(text, 24)
    assert all(len(line) <= 24 for line in lines) and len(lines) >= 5
    assert "".join(lines).replace(" ", "") == text.replace(" ", "").replace("\n", "")
    assert lines[-1] == "second line"
    assert messages.wrap("", 30) == []


def test_chars_per_line_follows_the_sidebar_width():
    assert messages.chars_per_line(320, 1.0) == 40  # (320 - 40) / 7
    assert messages.chars_per_line(600, 2.0) == 37  # (600 - 80) / 14
    assert messages.chars_per_line(60, 1.0) == 20  # never fewer than 20
