"""Domain gating from the engine's `info` reply (pure Python)."""
from s3d.core import domains

FOUND = ["/opt/s3d/weights/face.safetensors", "C:\\s3d\\weights\\face_v2.safetensors"]


def test_nothing_known_means_every_domain_is_available():
    assert domains.availability("{domain}", None) == {"face": None, "cat": None}


def test_a_domain_without_its_named_weights_is_unavailable_with_the_reason():
    got = domains.availability("{domain}", FOUND)
    assert got["face"] is None
    assert "No cat weights" in got["cat"] and "'cat'" in got["cat"] and "found: face, face_v2" in got["cat"]
    assert "add-on preferences" in got["cat"]
    assert domains.availability("{domain}", [])["face"].endswith("set Weights in the add-on preferences")


def test_generated_weights_and_fixed_names():
    assert domains.availability("random:tiny:{domain}", []) == {"face": None, "cat": None}
    got = domains.availability("face_v2", FOUND)  # one name for both domains (the engine checks the domain)
    assert got == {"face": None, "cat": None}


def test_weights_paths_are_checked_on_disk(tmp_path):
    (tmp_path / "face.safetensors").write_bytes(b"")
    got = domains.availability(str(tmp_path / "{domain}.safetensors"), [])
    assert got["face"] is None and "does not exist" in got["cat"]
