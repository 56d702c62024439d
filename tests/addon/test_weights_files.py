"""core/weights_files.py: the user's own weights are copied beside each other, never over."""
import json
import struct

import pytest

from s3d.core import weights_files


def safetensors_bytes(meta=b'{"__metadata__":{}}'):
    return struct.pack("<Q", len(meta)) + meta


def test_add_copies_the_file_and_its_sidecar(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "weights"
    src.mkdir()
    dst.mkdir()
    (src / "mine.safetensors").write_bytes(safetensors_bytes())
    (src / "mine.json").write_text(json.dumps({"domain": "face"}))
    assert weights_files.add(src / "mine.safetensors", dst) == "mine"
    assert (dst / "mine.safetensors").read_bytes() == safetensors_bytes()
    assert json.loads((dst / "mine.json").read_text()) == {"domain": "face"}
    assert sorted(p.name for p in dst.iterdir()) == ["mine.json", "mine.safetensors"]  # no temp files left
    (src / "mine.safetensors").write_bytes(safetensors_bytes(b'{"other": 1}'))
    with pytest.raises(ValueError, match="already exist"):
        weights_files.add(src / "mine.safetensors", dst)
    assert (dst / "mine.safetensors").read_bytes() == safetensors_bytes()  # not overwritten


def test_add_refuses_what_is_not_safetensors(tmp_path):
    (tmp_path / "w").mkdir()
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"PK\x03\x04 a zip, or a pickle")
    with pytest.raises(ValueError, match="header does not parse"):
        weights_files.add(bad, tmp_path / "w")
    short = tmp_path / "short.safetensors"
    short.write_bytes(struct.pack("<Q", 100) + b"{")  # claims a 100-byte header it does not have
    with pytest.raises(ValueError, match="header does not parse"):
        weights_files.add(short, tmp_path / "w")
    with pytest.raises(ValueError, match="is not a .safetensors file"):
        weights_files.add(tmp_path / "model.pt", tmp_path / "w")
    assert list((tmp_path / "w").iterdir()) == []
