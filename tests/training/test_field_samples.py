"""3D ground truth for the generator: samples lie where they should, with the head's own
signed distance, labels and albedo; the class balance follows its formula."""
from __future__ import annotations

import numpy as np
import pytest

from training.data.sample import identity_seed, make_head
from training.field_samples import (NEAR_FRACTION, class_balance, load_field_samples, make_field_samples,
                                    sample_field, sample_identity, surface_points)


def _octahedron(r: float = 1.0):
    v = np.array([[r, 0, 0], [-r, 0, 0], [0, r, 0], [0, -r, 0], [0, 0, r], [0, 0, -r]], np.float32)
    f = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
    return v, f


def test_surface_points_lie_on_the_triangles_and_follow_area():
    v, f = _octahedron(1.0)
    pts = surface_points(v, f, 4000, np.random.default_rng(0))
    # every face of the octahedron lies on the plane |x| + |y| + |z| = 1
    assert np.allclose(np.abs(pts).sum(1), 1.0, atol=1e-5)
    # equal areas: each octant gets about 1/8 of the points
    octant = (pts[:, 0] > 0) * 4 + (pts[:, 1] > 0) * 2 + (pts[:, 2] > 0)
    counts = np.bincount(octant, minlength=8)
    assert counts.min() > 400 and counts.max() < 600


def test_face_weight_steers_the_samples():
    v, f = _octahedron(1.0)
    w = np.ones(len(f))
    w[0] = 9.0  # face 0 is 9x as likely as each of the other 7: 9 / 16 of the samples
    pts = surface_points(v, f, 8000, np.random.default_rng(1), w)
    first = (pts[:, 0] > 0) & (pts[:, 1] > 0) & (pts[:, 2] > 0)
    assert first.mean() == pytest.approx(9 / 16, abs=0.02)


def test_class_balance_is_inverse_square_root_of_class_area():
    v, f = _octahedron(1.0)
    labels = np.array([1, 1, 0, 0, 1, 0], np.uint8)  # a face's class is its first vertex's
    w = class_balance(v, f, labels)
    cls = labels[f[:, 0]]
    area = np.sqrt(3) / 2  # each face: equilateral with side sqrt(2)
    for c in (0, 1):
        n = int((cls == c).sum())
        assert np.allclose(w[cls == c], 1 / np.sqrt(n * area))


def test_sample_identity_matches_the_heads_own_field():
    head = make_head("cat", identity_seed("train", 3))
    d = sample_identity(head, np.random.default_rng(0), n=4000)
    assert d["points"].shape == (4000, 3) and d["sdf"].shape == (4000,)
    assert np.abs(d["points"]).max() <= 0.5
    sdf, labels = head.evaluate(d["points"])
    assert np.allclose(d["sdf"].astype(np.float32), sdf, atol=2e-3)
    assert np.array_equal(d["labels"], labels)
    near = np.abs(d["sdf"][: int(4000 * NEAR_FRACTION)].astype(np.float32))
    assert np.median(near) < 0.02  # the near-surface points are near the surface ...
    far = np.abs(d["sdf"][int(4000 * NEAR_FRACTION):].astype(np.float32))
    assert np.median(far) > 0.05  # ... the uniform ones mostly are not
    assert 0 < (d["sdf"] < 0).mean() < 1 and len(np.unique(labels)) >= 3


def test_files_round_trip_and_resume(tmp_path):
    from training.make_dataset import main as make_dataset

    make_dataset(["--kind", "cat", "--count", "2", "--test-count", "1", "--views-per-identity", "2",
                  "--out", str(tmp_path / "d"), "--res", "32", "--sheet", "0", "--workers", "1"])
    assert make_field_samples(tmp_path / "d", workers=1) == 2  # one train, one test identity
    assert make_field_samples(tmp_path / "d", workers=1) == 0  # resumed: nothing left to do
    ident = identity_seed("train", 0)
    fs = load_field_samples(tmp_path / "d", "train", [ident])
    mem = sample_field("cat", [ident])
    assert np.array_equal(fs.points, mem.points) and np.array_equal(fs.labels, mem.labels)
    assert fs.row_of() == {ident: 0}
    with pytest.raises(FileNotFoundError, match="training.field_samples"):
        load_field_samples(tmp_path / "d", "train", [identity_seed("train", 5)])
