import hashlib
import json

import pytest
import torch

from s3d_engine.config import get_config
from s3d_engine.errors import WeightsError
from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.models.unet import UNetStyleDistil
from s3d_engine.weights import load_into, load_weights, metadata_path, save_weights


@pytest.fixture()
def saved(tmp_path):
    cfg = get_config("tiny", "cat")
    torch.manual_seed(0)
    gen, unet = TriPlaneGenerator(cfg), UNetStyleDistil(cfg.unet, cfg.num_classes)
    path = save_weights(tmp_path / "cat.safetensors", {"generator": gen, "unet": unet}, cfg,
                        training_command="python -m training.train --config tiny")
    return path, cfg, gen, unet


def test_roundtrip_restores_every_tensor(saved):
    path, cfg, gen, unet = saved
    w = load_weights(path)
    assert w.config == cfg and w.components == ["generator", "unet"]
    assert w.metadata["training_command"].startswith("python -m training.train")
    assert w.metadata["label_names"][0] == "background" and len(w.metadata["sha256"]) == 64
    gen2 = TriPlaneGenerator(w.config)
    load_into(gen2, w.state_dict("generator"), "test")
    for (k, a), (_, b) in zip(gen.state_dict().items(), gen2.state_dict().items()):
        assert torch.equal(a, b), k


def test_tampered_file_is_refused(saved):
    path = saved[0]
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="integrity check"):
        load_weights(path)


def test_truncated_file_is_refused_even_with_a_matching_hash(saved):
    path = saved[0]
    path.write_bytes(path.read_bytes()[:100])
    meta = json.loads(metadata_path(path).read_text())
    import hashlib

    meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    metadata_path(path).write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        load_weights(path)


def test_missing_metadata_and_missing_file(saved, tmp_path):
    path = saved[0]
    metadata_path(path).unlink()
    with pytest.raises(WeightsError, match="metadata file missing"):
        load_weights(path)
    with pytest.raises(WeightsError, match="not found"):
        load_weights(tmp_path / "nothing.safetensors")


def test_mismatched_shapes_name_the_offending_key(saved):
    path = saved[0]
    w = load_weights(path)
    other = TriPlaneGenerator(get_config("tiny", "face"))  # 19 classes instead of 6
    with pytest.raises(WeightsError, match=r"backbone\.mapping\.embed_mask\.b32\.fromrgb\.weight"):
        load_into(other, w.state_dict("generator"), "cat.safetensors")


def test_missing_component_is_named(tmp_path):
    cfg = get_config("tiny", "face")
    path = save_weights(tmp_path / "g.safetensors", {"generator": TriPlaneGenerator(cfg)}, cfg)
    with pytest.raises(WeightsError, match="no 'unet' weights"):
        load_weights(path).state_dict("unet")


def _header(path):
    import struct

    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return data, n, json.loads(data[8:8 + n])


def test_same_content_gives_the_same_bytes_with_sorted_header_metadata(saved, tmp_path):
    path, cfg, gen, unet = saved
    again = save_weights(tmp_path / "again.safetensors", {"generator": gen, "unet": unet}, cfg)
    assert again.read_bytes() == path.read_bytes()
    assert list(_header(path)[2]["__metadata__"]) == ["config", "format"]


def test_resaving_the_same_content_keeps_the_file_and_rewrites_the_sidecar(saved):
    """A file written with its header metadata in the other order (as the safetensors library
    may do) and the same tensors is kept byte for byte; only the sidecar changes. A changed
    tensor rewrites the file and the sidecar's hash."""
    import struct

    path, cfg, gen, unet = saved
    data, n, header = _header(path)
    header["__metadata__"] = dict(reversed(list(header["__metadata__"].items())))
    text = json.dumps(header, separators=(",", ":")).encode()
    legacy = data[:8] + text + b" " * (n - len(text)) + data[8 + n:]
    assert legacy != data and struct.unpack("<Q", legacy[:8])[0] == n
    path.write_bytes(legacy)
    metadata_path(path).write_text(json.dumps({**json.loads(metadata_path(path).read_text()),
                                               "sha256": hashlib.sha256(legacy).hexdigest()}))
    save_weights(path, {"generator": gen, "unet": unet}, cfg, training_command="re-packaged")
    assert path.read_bytes() == legacy
    w = load_weights(path)  # the hash check passes on the kept bytes
    assert w.metadata["training_command"] == "re-packaged"

    with torch.no_grad():
        next(gen.parameters()).add_(1.0)
    save_weights(path, {"generator": gen, "unet": unet}, cfg)
    assert path.read_bytes() != legacy
    assert list(_header(path)[2]["__metadata__"]) == ["config", "format"]
    assert load_weights(path).metadata["sha256"] != hashlib.sha256(legacy).hexdigest()
