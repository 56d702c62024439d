"""catalog.py: where named weights are found (user folder, the installed wheel's copy, a
checkout) and what an unknown name says."""
from __future__ import annotations

import pytest

from s3d_engine import catalog
from s3d_engine.errors import WeightsError


@pytest.fixture
def folders(tmp_path, monkeypatch):
    installed, checkout, user = (tmp_path / n for n in ("shipped_weights", "weights", "user"))
    for d in (installed, checkout, user):
        d.mkdir()
    monkeypatch.setattr(catalog, "INSTALLED_WEIGHTS", installed)
    monkeypatch.setattr(catalog, "CHECKOUT_WEIGHTS", checkout)
    monkeypatch.delenv("S3D_WEIGHTS_DIR", raising=False)
    return installed, checkout, user


def test_search_order_user_then_installed_then_checkout(folders, monkeypatch):
    installed, checkout, user = folders
    assert catalog.weights_dirs() == [installed, checkout]
    monkeypatch.setenv("S3D_WEIGHTS_DIR", str(user))
    assert catalog.weights_dirs() == [user, installed, checkout]
    for d in (installed, checkout):
        (d / "face.safetensors").write_bytes(b"x")
    assert catalog.resolve_weights("face") == installed / "face.safetensors"  # the wheel's copy first
    (user / "face.safetensors").write_bytes(b"x")
    assert catalog.resolve_weights("face") == user / "face.safetensors"  # the user's own file wins
    (checkout / "mine.safetensors").write_bytes(b"x")
    assert catalog.resolve_weights("mine") == checkout / "mine.safetensors"
    assert [p.name for p in catalog.available_weights()] == ["face.safetensors"] * 3 + ["mine.safetensors"]


def test_an_installed_wheel_without_a_checkout(folders, monkeypatch):
    installed, checkout, _ = folders
    checkout.rmdir()
    assert catalog.weights_dirs() == [installed]
    (installed / "cat.safetensors").write_bytes(b"x")
    assert catalog.resolve_weights("cat") == installed / "cat.safetensors"


def test_unknown_name_lists_what_exists(folders):
    installed, _, _ = folders
    (installed / "face.safetensors").write_bytes(b"x")
    with pytest.raises(WeightsError, match=r"no weights named 'dog' .* \(found: face\)"):
        catalog.resolve_weights("dog")
    with pytest.raises(WeightsError, match="is a folder"):
        catalog.resolve_weights(str(installed))


def test_paths_are_taken_as_they_are(folders, tmp_path):
    assert catalog.resolve_weights(str(tmp_path / "x.safetensors")) == tmp_path / "x.safetensors"
