import numpy as np
import pytest

from s3d_engine.labels import CAT_LABELS, FACE_LABELS, label_set


def test_face_order_and_palette_follow_celebamask():
    assert FACE_LABELS.num_classes == 19
    assert FACE_LABELS.names[:5] == ("background", "skin", "nose", "eye_g", "l_eye")
    assert FACE_LABELS.index("hair") == 13 and FACE_LABELS.index("cloth") == 18
    assert FACE_LABELS.palette[0] == (255, 255, 255)  # pix2pix3D draws the background white
    assert FACE_LABELS.palette[13] == (0, 0, 204)


def test_cat_has_six_named_classes():
    assert CAT_LABELS.num_classes == 6 and CAT_LABELS.names[0] == "background"


def test_colorize_roundtrip_with_both_backgrounds():
    labels = np.arange(19, dtype=np.uint8).reshape(1, 19)
    rgb = FACE_LABELS.colorize(labels)
    assert np.array_equal(FACE_LABELS.decolorize(rgb), labels)
    black_bg = rgb.copy()
    black_bg[0, 0] = (0, 0, 0)
    assert np.array_equal(FACE_LABELS.decolorize(black_bg, background=(0, 0, 0)), labels)


def test_out_of_range_labels_are_refused():
    with pytest.raises(ValueError, match="0..5"):
        CAT_LABELS.colorize(np.array([6]))
    with pytest.raises(ValueError, match="unknown domain"):
        label_set("dog")
