"""Hostile weights files (issue 11, part B): the sidecar is validated by a schema before anything
is allocated, tensor dtypes are checked per slot from the header, and only regular files of a
sane size are hashed. Each asserts the exact one-line message."""
from __future__ import annotations

import copy
import json
import os
import time

import pytest
import torch

from s3d_engine import limits
from s3d_engine.config import ModelConfig, get_config
from s3d_engine.errors import ConfigError, WeightsError
from s3d_engine.models.unet import UNetStyleDistil
from s3d_engine.weights import load_weights, metadata_path, parse_metadata, save_weights


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A real tiny cat U-Net weights file and its sidecar (read-only: tests copy what they change)."""
    cfg = get_config("tiny", "cat")
    torch.manual_seed(0)
    path = save_weights(tmp_path_factory.mktemp("w") / "cat.safetensors",
                        {"unet": UNetStyleDistil(cfg.unet, cfg.num_classes)}, cfg)
    return path, json.loads(metadata_path(path).read_text())


@pytest.fixture()
def sidecar(saved):
    return copy.deepcopy(saved[1])


def write_beside(tmp_path, saved, meta) -> os.PathLike:
    """The saved tensors with a changed sidecar, in a fresh folder."""
    path = tmp_path / "cat.safetensors"
    path.write_bytes(saved[0].read_bytes())
    metadata_path(path).write_text(json.dumps(meta))
    return path


def refused(source, message: str, exc=WeightsError) -> None:
    with pytest.raises(exc) as info:
        if isinstance(source, dict):
            parse_metadata(json.dumps(source), "cat.json")
        else:
            load_weights(source)
    assert str(info.value) == message


def test_z_dim_1e11_is_refused_before_any_model_is_built(tmp_path, saved, sidecar, monkeypatch):
    built = []
    monkeypatch.setattr("s3d_engine.models.generator.TriPlaneGenerator.__init__",
                        lambda *a, **k: built.append(1) or (_ for _ in ()).throw(AssertionError("built")))
    sidecar["config"]["generator"]["z_dim"] = 1e11
    refused(write_beside(tmp_path, saved, sidecar),
            "cat.json: model configuration: generator.z_dim must be an integer in 1..4096, got 100000000000.0")
    assert built == []


def test_a_configuration_within_ranges_but_too_big_is_refused_on_the_meta_device(tmp_path, saved, sidecar):
    gen = sidecar["config"]["generator"]
    gen.update(w_dim=4096, synthesis_channel_base=1 << 20, synthesis_channel_max=4096)
    start = time.perf_counter()
    with pytest.raises(WeightsError) as info:
        load_weights(write_beside(tmp_path, saved, sidecar))
    assert str(info.value).startswith("cat.json: the configuration needs ")
    assert str(info.value).endswith(f" parameters, over the limit of {limits.MAX_MODEL_PARAMETERS:,}; "
                                    "the sidecar is wrong or not for this engine")
    assert time.perf_counter() - start < 30  # nothing was allocated


@pytest.mark.parametrize("change, message", [
    (lambda m: m["config"]["generator"].update(z_dim="512"),
     "cat.json: model configuration: generator.z_dim must be an integer in 1..4096, got '512'"),
    (lambda m: m["config"]["generator"].update(z_dim=True),
     "cat.json: model configuration: generator.z_dim must be an integer in 1..4096, got True"),
    (lambda m: m["config"]["unet"].update(channels=[8, "16", 16]),
     "cat.json: model configuration: unet.channels must be a list of at most 16 integers in 1..4096, got [8, '16', 16]"),
    (lambda m: m["config"]["unet"].update(resolution=33),
     "cat.json: model configuration: unet.resolution must be a power of two in 8..1024, got 33"),
    (lambda m: m["config"]["generator"].update(sr_conv_clamp=float("nan")),
     "cat.json: model configuration: generator.sr_conv_clamp must be a number above 0 and at most 1e+06 (or null), got nan"),
    (lambda m: m["config"]["generator"].update(clamp_mode="exp"),
     "cat.json: model configuration: generator.clamp_mode must be one of softplus, got 'exp'"),
    (lambda m: m["config"]["generator"].update(bogus=1),
     "cat.json: model configuration: unknown field generator.bogus"),
    (lambda m: m["config"].update(unet=[1, 2]),
     "cat.json: model configuration: 'unet' must be a JSON object, got list"),
    (lambda m: m["config"].update(mesh_level="high"),
     "cat.json: model configuration: mesh_level must be a finite number, got 'high'"),
    (lambda m: m["config"].pop("generator"), "cat.json: model configuration: 'generator' is missing"),
    (lambda m: m.update(config=[]), "cat.json: model configuration must be a JSON object, got list"),
    (lambda m: m.update(sha256=5), "cat.json: 'sha256' must be 64 lowercase hex digits, got 5"),
    (lambda m: m.pop("sha256"), "cat.json: 'sha256' must be 64 lowercase hex digits, got missing"),
    (lambda m: m.update(components="unet"), "cat.json: 'components' must be a list of unet, generator, got 'unet'"),
    (lambda m: m.update(parameters=-1), "cat.json: 'parameters' must be a count, got -1"),
    (lambda m: m.update(file=["cat.safetensors"]), "cat.json: 'file' must be a string, got ['cat.safetensors']"),
    (lambda m: m.update(format="s3d-weights/2"), "cat.json: unsupported format 's3d-weights/2' (expected s3d-weights/1)"),
])
def test_wrong_json_types_and_ranges_name_the_field(sidecar, change, message):
    change(sidecar)
    refused(sidecar, message)


def test_an_unknown_domain_fails_at_load_not_at_generate(sidecar):
    sidecar["domain"] = "dog"
    refused(sidecar, "cat.json: 'domain' must be one of cat, face, got 'dog'")
    sidecar["domain"] = "cat"
    sidecar["config"]["domain"] = "dog"
    refused(sidecar, "cat.json: model configuration: unknown domain 'dog'; expected one of cat, face")
    sidecar["config"]["domain"] = []  # found by the fuzzer: an unhashable domain was a TypeError
    refused(sidecar, "cat.json: model configuration: unknown domain []; expected one of cat, face")


def test_domain_and_labels_must_agree(sidecar):
    sidecar["domain"] = "face"
    refused(sidecar, "cat.json: 'label_names' must be the face label names, got "
                     "['background', 'face', 'eye', 'ear', 'nose', 'mouth']")
    del sidecar["label_names"]
    refused(sidecar, "cat.json: the configuration is for cat but 'domain' says face")


@pytest.mark.parametrize("text, message", [
    (b"\xff\xfe{}", "metadata file cat.json is not valid JSON: 'utf-8' codec can't decode byte 0xff in position 0: "
                    "invalid start byte"),
    (b"[1, 2]", "metadata file cat.json must hold a JSON object, got list"),
    (b'{"a": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}", "metadata file cat.json is nested over 32 levels deep"),
    (b"[" * 100000 + b"]" * 100000, "metadata file cat.json is nested over 32 levels deep"),
    (b'{"n": ' + b"9" * 5000 + b"}", "metadata file cat.json is not valid JSON: Exceeds the limit (4300 digits) "
                                     "for integer string conversion: value has 5000 digits"),
])
def test_malformed_sidecar_text_is_one_line(text, message):
    with pytest.raises(WeightsError) as info:
        parse_metadata(text, "cat.json")
    assert str(info.value) == message


def test_a_config_error_is_a_config_error_from_the_config_module(sidecar):
    data = sidecar["config"]
    data["generator"]["depth_resolution"] = 0
    with pytest.raises(ConfigError, match=r"^model configuration: generator\.depth_resolution must be an integer "
                                          r"in 1\.\.512, got 0$"):
        ModelConfig.from_dict(data)


def test_an_int64_tensor_in_a_float_slot_is_refused_naming_the_key(tmp_path):
    cfg = get_config("tiny", "cat")
    state = UNetStyleDistil(cfg.unet, cfg.num_classes).state_dict()
    key = "bottleneck.from_style.weight"
    state[key] = state[key].to(torch.int64)
    path = save_weights(tmp_path / "cat.safetensors", {"unet": state}, cfg)
    refused(path, f"cat.safetensors: tensor 'unet.{key}' is I64, its slot needs a float tensor "
                  "(the file was altered or is not for this model)")


def test_a_float_tensor_in_an_int_slot_is_refused(tmp_path):
    cfg = get_config("tiny", "cat")
    state = UNetStyleDistil(cfg.unet, cfg.num_classes).state_dict()
    key = next(k for k, v in state.items() if v.dtype == torch.int64)  # BatchNorm's num_batches_tracked
    state[key] = state[key].to(torch.float32)
    path = save_weights(tmp_path / "cat.safetensors", {"unet": state}, cfg)
    refused(path, f"cat.safetensors: tensor 'unet.{key}' is F32, its slot needs an int tensor "
                  "(the file was altered or is not for this model)")


def test_weights_linked_to_dev_zero_are_refused_at_once(tmp_path, saved):
    path = tmp_path / "cat.safetensors"
    metadata_path(path).write_text(metadata_path(saved[0]).read_text())
    path.symlink_to("/dev/zero")
    start = time.perf_counter()
    refused(path, f"weights file is not a regular file (a device, pipe or socket): {path}")
    with pytest.raises(WeightsError, match="not a regular file"):
        load_weights(path, verify_hash=False)
    assert time.perf_counter() - start < 30  # it used to hash forever


def test_weights_over_the_size_limit_are_refused_before_hashing(tmp_path, saved):
    path = write_beside(tmp_path, saved, saved[1])
    with open(path, "r+b") as handle:  # sparse: no disk used
        handle.truncate(limits.MAX_WEIGHTS_BYTES + 1)
    refused(path, f"weights file is too large: {limits.MAX_WEIGHTS_BYTES + 1:,} bytes, "
                  f"the limit is {limits.MAX_WEIGHTS_BYTES:,}: {path}")


def test_special_and_oversized_sidecars_are_refused(tmp_path, saved):
    path = tmp_path / "cat.safetensors"
    path.write_bytes(saved[0].read_bytes())
    side = metadata_path(path)
    os.mkfifo(side)
    refused(path, f"metadata file cat.json is not a regular file (a device, pipe or socket): {side}")
    side.unlink()
    with open(side, "wb") as handle:
        handle.truncate(limits.MAX_SIDECAR_BYTES + 1)
    refused(path, f"metadata file cat.json is too large: {limits.MAX_SIDECAR_BYTES + 1:,} bytes, "
                  f"the limit is {limits.MAX_SIDECAR_BYTES:,}: {side}")


def test_the_shipped_sidecars_and_a_fresh_one_pass(saved):
    root = os.path.join(os.path.dirname(__file__), "..", "..", "weights")
    for name in ("face.json", "cat.json"):
        with open(os.path.join(root, name), "rb") as handle:
            assert parse_metadata(handle.read(), name)["format"] == "s3d-weights/1"
    assert load_weights(saved[0]).components == ["unet"]
