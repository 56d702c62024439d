"""`s3d convert-pix2pix3d`: safe reading of pix2pix3D's pickles, layout checks, conversion."""
from __future__ import annotations

import io
import json
import os
import pickle
import pickletools
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from s3d_engine.cli import main as cli_main
from s3d_engine.config import get_config
from s3d_engine.convert import pix2pix3d as conv
from s3d_engine.convert.safe_unpickle import (LEGACY_MAGIC, CorruptCheckpointError, UnsafeCheckpointError,
                                              load_checkpoint_object)
from s3d_engine.errors import WeightsError
from s3d_engine.io_utils import sha256_file
from s3d_engine.models.generator import TriPlaneGenerator
from s3d_engine.weights import load_weights
from tests.convert import p2p3d_fixture as fx

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "pix2pix3d_G_ema_keys.json"
CKPT_NAMES = {"face": "seg2face", "cat": "seg2cat"}


@pytest.fixture(scope="module")
def reference_layout() -> dict[str, dict[str, tuple[int, ...]]]:
    data = json.loads(REFERENCE.read_text())
    return {dom: {k: tuple(v) for k, v in data[name].items()} for dom, name in CKPT_NAMES.items()}


@pytest.fixture(scope="module")
def tiny_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    gen = TriPlaneGenerator(get_config("tiny", "face"))
    state = {}
    g = torch.Generator().manual_seed(2)
    for k, v in gen.state_dict().items():  # random everything, so a mix-up of any two tensors shows
        state[k] = torch.randn(v.shape, generator=g) * (0.5 if v.ndim else 0.1)
    return state


def _snapshot_bytes(extra: dict | None = None, g_ema=None, **kw) -> bytes:
    snap = fx.snapshot(g_ema if g_ema is not None else fx.build_g_ema({"decoder.net.0.weight": torch.zeros(2, 2)}))
    snap.update(extra or {})
    return fx.dumps(snap, **kw)


# ------------------------------------------------------------------------------------------------
# How tensors pickle, and that we read them without torch.load
# ------------------------------------------------------------------------------------------------


def test_plain_pickle_tensor_format_is_what_we_parse():
    """With plain pickle a tensor is `_rebuild_tensor_v2(_load_from_bytes(B), ...)`, B a legacy
    torch.save stream starting with the magic number; a Parameter wraps that in `_rebuild_parameter`."""
    data = pickle.dumps(torch.nn.Parameter(torch.zeros(3)), protocol=4)
    strings = [arg for op, arg, _ in pickletools.genops(data) if op.name == "SHORT_BINUNICODE"]
    assert {"torch._utils", "_rebuild_parameter", "_rebuild_tensor_v2", "torch.storage", "_load_from_bytes"} <= set(strings)
    blob = next(arg for op, arg, _ in pickletools.genops(data) if op.name in ("BINBYTES", "SHORT_BINBYTES"))
    stream = io.BytesIO(blob)
    assert pickle.load(stream) == LEGACY_MAGIC  # a plain int: harmless to read with stock pickle
    assert pickle.load(stream) == 1001


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_restricted_loader_round_trips_tensors(tmp_path, protocol, monkeypatch):
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    obj = {"view": base[1:, 1:3], "param": torch.nn.Parameter(torch.randn(2, 3)), "half": torch.randn(5).half(),
           "int": torch.arange(4), "bool": torch.tensor([True, False]), "scalar": torch.tensor(2.5),
           "empty": torch.zeros(0, 3), "expanded": torch.randn(3).expand(4, 3), "np": np.float64(0.125),
           "arr": np.arange(3.0), "set": {1, 2}, "size": torch.Size([2, 2])}
    path = tmp_path / "t.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))

    def forbidden(*a, **k):
        raise AssertionError("an unrestricted loader was called")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(torch.storage, "_load_from_bytes", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    out = load_checkpoint_object(path)
    for key in ("view", "half", "int", "bool", "scalar", "empty", "expanded"):
        assert out[key].dtype == obj[key].dtype and torch.equal(out[key], obj[key]), key
    assert torch.equal(out["param"], obj["param"].data)
    assert out["np"] == 0.125 and out["arr"].tolist() == [0.0, 1.0, 2.0] and out["set"] == {1, 2}
    assert tuple(out["size"]) == (2, 2)


def test_torch_save_zip_and_legacy_formats(tmp_path, tiny_state):
    cfg = get_config("tiny", "face")
    zip_path, legacy_path = tmp_path / "g.pt", tmp_path / "legacy.pt"
    torch.save({"G_ema": tiny_state}, zip_path)
    torch.save(tiny_state, legacy_path, _use_new_zipfile_serialization=False)
    for path in (zip_path, legacy_path):
        ck = conv.read_checkpoint(path, cfg)
        assert ck.domain == "face" and all(torch.equal(ck.state_dict[k], v) for k, v in tiny_state.items())


# ------------------------------------------------------------------------------------------------
# The paper layout (full shapes, cheap tensors)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", ["face", "cat"])
def test_engine_paper_layout_matches_reference(domain, reference_layout):
    ours = conv.expected_layout(get_config("paper", domain))
    assert ours == reference_layout[domain]
    assert len(ours) == 286


@pytest.mark.parametrize("domain", ["face", "cat"])
def test_read_paper_checkpoint(tmp_path, domain, reference_layout):
    state = fx.cheap_full_size(reference_layout[domain], seed=3)
    path = fx.write_checkpoint(tmp_path / f"pix2pix3d_{CKPT_NAMES[domain]}.pkl", state)
    ck = conv.read_checkpoint(path)
    assert (ck.domain, ck.num_classes) == (domain, 19 if domain == "face" else 6)
    assert ck.class_name == "TriPlaneSemanticEntangleGenerator"
    assert {k: tuple(v.shape) for k, v in ck.state_dict.items()} == reference_layout[domain]
    assert "scratch" not in ck.state_dict  # non-persistent buffer skipped, as state_dict() does
    assert all(torch.equal(ck.state_dict[k], v) for k, v in state.items())
    assert ck.sha256 == sha256_file(path)
    assert ck.notes == [] and ck.rendering_kwargs["depth_resolution"] == 48


def test_convert_paper_face_via_cli_and_from_pretrained(tmp_path, reference_layout, capsys):
    """The real thing at full size: CLI conversion, metadata, and loading with from_pretrained."""
    from s3d_engine.pipeline import S3DPipeline

    state = fx.cheap_full_size(reference_layout["face"], seed=4)
    src = fx.write_checkpoint(tmp_path / "pix2pix3d_seg2face.pkl", state)
    assert cli_main(["convert-pix2pix3d", str(src), "-o", str(tmp_path / "out" / "seg2face.safetensors")]) == 0
    out = tmp_path / "out" / "seg2face.safetensors"
    assert "wrote" in capsys.readouterr().out
    weights = load_weights(out)
    meta = weights.metadata
    assert meta["source_file"] == src.name and meta["source_sha256"] == sha256_file(src)
    assert meta["domain"] == "face" and meta["config"]["name"] == "paper" and meta["source_num_classes"] == 19
    pipe = S3DPipeline.from_pretrained(out, device="cpu")
    loaded = pipe.generator.state_dict()
    for key in ("backbone.mapping.embed_mask.projector.weight", "decoder.net_semantic.2.bias",
                "backbone.synthesis.b256.torgb.weight", "superresolution_semantic.block1.torgb.bias",
                "backbone.mapping.w_avg", "backbone.synthesis.b4.conv1.noise_strength"):
        assert torch.equal(loaded[key], state[key]), key
    assert pipe.config.domain == "face" and pipe.config.num_classes == 19

    # Same outputs as the generator given the original state dict directly (the cheap paths of
    # the paper model: decoder field queries, the z + c mapping, a small raw render).
    from s3d_engine.cameras import domain_camera

    with torch.device("meta"):
        direct = TriPlaneGenerator(get_config("paper", "face"))
    direct.load_state_dict(state, assign=True)
    g = torch.Generator().manual_seed(7)
    planes, ws = torch.randn(1, 3, 32, 256, 256, generator=g), torch.randn(1, 14, 512, generator=g)
    points, z = torch.rand(1, 64, 3, generator=g) - 0.5, torch.randn(1, 512, generator=g)
    c = torch.from_numpy(domain_camera("face", 0.2))[None]
    outs = []
    for model in (pipe.generator.eval(), direct.eval()):
        with torch.no_grad():
            field = model.sample_mixed(points, planes=planes)
            render = model.render(planes, ws, c, resolution=4, generator=torch.Generator().manual_seed(1),
                                  super_resolve=False)
            outs.append([field["sigma"], field["rgb"], model.backbone.mapping.appearance(z, c),
                         render["image_raw"], render["semantic_raw"]])
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------------
# Identical outputs (tiny configuration of the same architecture)
# ------------------------------------------------------------------------------------------------


def test_converted_generator_matches_direct_load(tmp_path, tiny_state):
    from s3d_engine.cameras import domain_camera
    from s3d_engine.pipeline import S3DPipeline

    cfg = get_config("tiny", "face")
    src = fx.write_checkpoint(tmp_path / "tiny.pkl", tiny_state)
    out = conv.convert_checkpoint(src, tmp_path, config=cfg)
    assert out == tmp_path / "tiny.safetensors"
    converted = S3DPipeline.from_pretrained(out, device="cpu").generator.eval()
    direct = TriPlaneGenerator(cfg).eval()
    direct.load_state_dict(tiny_state)

    g = torch.Generator().manual_seed(0)
    res = cfg.generator.mask_resolution
    mask = torch.randint(0, cfg.num_classes, (2, res, res), generator=g)
    z = torch.randn(2, cfg.generator.z_dim, generator=g)
    c = torch.from_numpy(np.stack([domain_camera("face"), domain_camera("face", 0.3, -0.1)]))
    points = torch.rand(2, 50, 3, generator=g) - 0.5
    results = []
    for model in (converted, direct):
        with torch.no_grad():
            ws = model.mapping(z, c, mask=mask)
            planes = model.planes(ws)
            field = model.sample_mixed(points, planes=planes)
            render = model.render(planes, ws, c, generator=torch.Generator().manual_seed(5))
        results.append({"ws": ws, "planes": planes, **{f"field_{k}": v for k, v in field.items()},
                        **{f"render_{k}": v for k, v in render.items()}})
    assert results[0].keys() == results[1].keys()
    for key in results[0]:
        assert torch.equal(results[0][key], results[1][key]), key


# ------------------------------------------------------------------------------------------------
# Layout problems
# ------------------------------------------------------------------------------------------------


def _tiny_ckpt(tmp_path, state, name="t.pkl"):
    return fx.write_checkpoint(tmp_path / name, state)


def test_missing_unexpected_and_misshaped_tensors(tmp_path, tiny_state):
    cfg = get_config("tiny", "face")
    broken = dict(tiny_state)
    broken.pop("decoder.net.0.bias")
    broken["backbone.synthesis.b8.conv0.weight"] = torch.zeros(1, 1, 3, 3)
    broken["backbone.extra.weight"] = torch.zeros(1)
    with pytest.raises(conv.LayoutMismatchError) as err:
        conv.read_checkpoint(_tiny_ckpt(tmp_path, broken), cfg)
    text = str(err.value)
    assert "decoder.net.0.bias" in text and "backbone.extra.weight" in text and "b8.conv0.weight" in text


def test_paper_check_refuses_a_scaled_down_file(tmp_path, tiny_state):
    with pytest.raises(conv.LayoutMismatchError, match="'paper' face"):
        conv.convert_checkpoint(_tiny_ckpt(tmp_path, tiny_state), tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize("classes,message", [(1, "edge"), (7, "7 semantic classes")])
def test_unsupported_class_counts(tmp_path, reference_layout, classes, message):
    shapes = dict(reference_layout["cat"])
    for key, shape in shapes.items():
        if key.endswith("fromrgb.weight"):
            shapes[key] = (shape[0], classes) + shape[2:]
        if key.startswith("superresolution_semantic") and ".torgb." in key and "affine" not in key:
            shapes[key] = (classes,) + shape[1:]
    path = fx.write_checkpoint(tmp_path / "odd.pkl", fx.cheap_full_size(shapes))
    with pytest.raises(conv.LayoutMismatchError, match=message):
        conv.read_checkpoint(path)


def test_inconsistent_class_counts(tmp_path, reference_layout):
    shapes = dict(reference_layout["face"])
    shapes["superresolution_semantic.block1.torgb.weight"] = (6, 128, 1, 1)
    path = fx.write_checkpoint(tmp_path / "mixed.pkl", fx.cheap_full_size(shapes))
    with pytest.raises(conv.LayoutMismatchError, match="inconsistent"):
        conv.read_checkpoint(path)


def test_non_finite_weights_are_refused(tmp_path, tiny_state):
    state = dict(tiny_state)
    state["decoder.net.0.weight"] = state["decoder.net.0.weight"].clone()
    state["decoder.net.0.weight"][0, 0] = float("nan")
    with pytest.raises(WeightsError, match="NaN"):
        conv.convert_checkpoint(_tiny_ckpt(tmp_path, state), tmp_path / "o.safetensors", config=get_config("tiny", "face"))


def test_snapshot_without_g_ema(tmp_path):
    path = tmp_path / "d_only.pkl"
    snap = fx.snapshot(None)
    snap.pop("G_ema")
    path.write_bytes(fx.dumps(snap))
    with pytest.raises(WeightsError, match="no 'G_ema'"):
        conv.read_checkpoint(path)


def test_output_path_rules(tmp_path):
    src = tmp_path / "pix2pix3d_seg2cat.pkl"
    assert conv._output_path(src, tmp_path) == tmp_path / "pix2pix3d_seg2cat.safetensors"
    assert conv._output_path(src, tmp_path / "cat") == tmp_path / "cat.safetensors"
    with pytest.raises(WeightsError, match=".safetensors"):
        conv._output_path(src, tmp_path / "cat.pt")


# ------------------------------------------------------------------------------------------------
# Malicious files: refused, and nothing runs
# ------------------------------------------------------------------------------------------------


class _Payload:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(sentinel: Path):
    import builtins

    return {
        "os.system": _Payload(os.system, (f"touch {sentinel}",)),
        "builtins.eval": _Payload(builtins.eval, (f"open({str(sentinel)!r}, 'w').close()",)),
        "builtins.exec": _Payload(builtins.exec, (f"open({str(sentinel)!r}, 'w').close()",)),
        "subprocess.Popen": _Payload(subprocess.Popen, (["touch", str(sentinel)],)),
        "builtins.getattr": _Payload(getattr, ("os", "system")),
        "pathlib.Path.touch": _Payload(Path.touch, (sentinel,)),
    }


def test_payloads_are_live_with_stock_pickle(tmp_path):
    """Control: the os.system payload really creates the sentinel when unpickled normally."""
    sentinel = tmp_path / "control"
    pickle.loads(pickle.dumps(_payloads(sentinel)["os.system"]))
    assert sentinel.exists()


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "builtins.exec", "subprocess.Popen",
                                  "builtins.getattr", "pathlib.Path.touch"])
@pytest.mark.parametrize("where", ["top", "state"])
def test_malicious_globals_are_refused(tmp_path, name, where):
    sentinel = tmp_path / "pwned"
    payload = _payloads(sentinel)[name]
    if where == "top":
        data = _snapshot_bytes({"training_set_kwargs": payload})
    else:  # hidden inside a persistent object's state, deep in G_ema
        g = fx.build_g_ema({"decoder.net.0.weight": torch.zeros(2, 2)})
        g.attrs["rendering_kwargs"] = {"ray_start": payload}
        data = _snapshot_bytes(g_ema=g)
    path = tmp_path / "evil.pkl"
    path.write_bytes(data)
    with pytest.raises(UnsafeCheckpointError, match="refusing to load global") as err:
        conv.convert_checkpoint(path, tmp_path / "out.safetensors")
    assert "nothing in it was run" in str(err.value)
    assert not sentinel.exists()
    assert not (tmp_path / "out.safetensors").exists()


def test_malicious_global_inside_storage_bytes(tmp_path):
    """`_load_from_bytes(B)`: B is parsed by us, so a global smuggled into B is refused too."""
    sentinel = tmp_path / "pwned"
    inner = (pickle.dumps(LEGACY_MAGIC, protocol=2) + pickle.dumps(1001, protocol=2)
             + pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {}}, protocol=2)
             + pickle.dumps(_payloads(sentinel)["os.system"], protocol=2) + pickle.dumps([], protocol=2))
    path = tmp_path / "evil_storage.pkl"
    path.write_bytes(_snapshot_bytes({"augment_pipe": _Payload(torch.storage._load_from_bytes, (inner,))}))
    with pytest.raises(UnsafeCheckpointError, match="system"):
        load_checkpoint_object(path)
    assert not sentinel.exists()


def _evil_source(sentinel: Path) -> str:
    return ("import torch\n"
            f"open({str(sentinel)!r}, 'w').write('pwned')\n"
            "class TriPlaneSemanticEntangleGenerator(torch.nn.Module):\n    pass\n")


def test_module_src_payload_is_live_if_executed(tmp_path):
    """Control: the embedded source below creates the sentinel if someone executes it."""
    sentinel = tmp_path / "control"
    exec(compile(_evil_source(sentinel), "<control>", "exec"), {})  # noqa: S102 - our own test string
    assert sentinel.exists()


@pytest.mark.parametrize("variant", ["module", "class_body", "decorator", "os_system"])
def test_module_src_with_import_time_code_is_refused(tmp_path, variant, tiny_state):
    sentinel = tmp_path / "pwned"
    sources = {
        "module": _evil_source(sentinel),
        "class_body": f"class TriPlaneSemanticEntangleGenerator:\n    x = open({str(sentinel)!r}, 'w')\n",
        "decorator": f"@__import__('os').system('touch {sentinel}')\nclass TriPlaneSemanticEntangleGenerator:\n    pass\n",
        "os_system": f"import os as q\nq.system('touch {sentinel}')\nclass TriPlaneSemanticEntangleGenerator:\n    pass\n",
    }
    g = fx.build_g_ema(tiny_state)
    g.module_src = sources[variant]
    path = tmp_path / "evil_src.pkl"
    path.write_bytes(fx.dumps(fx.snapshot(g)))
    with pytest.raises(UnsafeCheckpointError, match="TriPlaneSemanticEntangleGenerator"):
        conv.convert_checkpoint(path, tmp_path / "o.safetensors", config=get_config("tiny", "face"))
    assert not sentinel.exists()


def test_code_in_method_bodies_is_inert(tmp_path, tiny_state):
    """Source that would only act when a method is called is accepted, and still never runs."""
    sentinel = tmp_path / "pwned"
    g = fx.build_g_ema(tiny_state)
    g.module_src = ("import os\nclass TriPlaneSemanticEntangleGenerator:\n"
                    f"    def __setstate__(self, state):\n        os.system('touch {sentinel}')\n")
    path = tmp_path / "methods.pkl"
    path.write_bytes(fx.dumps(fx.snapshot(g)))
    out = conv.convert_checkpoint(path, tmp_path / "o.safetensors", config=get_config("tiny", "face"))
    assert out.exists() and not sentinel.exists()


# ------------------------------------------------------------------------------------------------
# Damaged and unsupported files
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [5, 7, "6", None])
def test_wrong_persistence_version(tmp_path, tiny_state, version):
    g = fx.build_g_ema(tiny_state)
    g.version = version
    path = tmp_path / "v.pkl"
    path.write_bytes(fx.dumps(fx.snapshot(g)))
    with pytest.raises(CorruptCheckpointError, match=f"persistence version {version!r}"):
        conv.read_checkpoint(path, get_config("tiny", "face"))


def test_wrong_persistent_record_type(tmp_path):
    path = tmp_path / "t.pkl"
    bad = _Payload(fx._stub_reconstruct, ({"type": "function", "version": 6, "module_src": "", "class_name": "f"},))
    path.write_bytes(fx.dumps({"G_ema": bad}))
    with pytest.raises(CorruptCheckpointError, match="type 'function'"):
        load_checkpoint_object(path)


@pytest.mark.parametrize("fraction", [0.02, 0.5, 0.999])
def test_truncated_file(tmp_path, tiny_state, fraction):
    data = fx.dumps(fx.snapshot(fx.build_g_ema(tiny_state)))
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CorruptCheckpointError, match="truncated or corrupt"):
        conv.read_checkpoint(path, get_config("tiny", "face"))


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"hello, I am a text file\n", "not a pickle"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "not a pickle"),
    (b"\x80\x04\x95" + bytes(5), "truncated or corrupt"),
])
def test_not_a_checkpoint(tmp_path, content, message):
    path = tmp_path / "x.pkl"
    path.write_bytes(content)
    with pytest.raises(CorruptCheckpointError, match=message):
        conv.read_checkpoint(path)


def test_zip_that_is_not_a_torch_archive(tmp_path):
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(CorruptCheckpointError, match="not a torch.save archive"):
        conv.read_checkpoint(path)


def test_storage_bytes_too_short(tmp_path):
    blob = io.BytesIO()
    torch.save(torch.zeros(4)._typed_storage(), blob, _use_new_zipfile_serialization=False)
    raw = blob.getvalue()[:-3]
    path = tmp_path / "short.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _Payload(torch.storage._load_from_bytes, (raw,))}, protocol=4))
    with pytest.raises(CorruptCheckpointError, match="truncated"):
        load_checkpoint_object(path)


def test_tensor_past_its_storage(tmp_path):
    from torch._utils import _rebuild_tensor_v2

    storage = torch.zeros(4)._typed_storage()
    bad = _Payload(_rebuild_tensor_v2, (storage, 2, (3,), (1,), False, {}))
    path = tmp_path / "oob.pkl"
    path.write_bytes(pickle.dumps({"x": bad}, protocol=4))
    with pytest.raises(CorruptCheckpointError, match="reaches element"):
        load_checkpoint_object(path)


def test_missing_file_cli_message(tmp_path, capsys):
    assert cli_main(["convert-pix2pix3d", str(tmp_path / "nope.pkl"), "-o", str(tmp_path / "o.safetensors")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err



def test_bogus_storage_size_is_refused_before_allocating(tmp_path):
    """A legacy storage record claiming 10^12 floats in a few bytes is refused, not allocated."""

    class _Marker:
        pass

    class _Writer(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", 10 ** 12, None) if isinstance(obj, _Marker) else None

    body = io.BytesIO()
    _Writer(body, protocol=2).dump(_Marker())
    inner = (pickle.dumps(LEGACY_MAGIC, protocol=2) + pickle.dumps(1001, protocol=2)
             + pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {}}, protocol=2)
             + body.getvalue() + pickle.dumps(["0"], protocol=2))
    path = tmp_path / "bogus.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _Payload(torch.storage._load_from_bytes, (inner,))}, protocol=4))
    with pytest.raises(CorruptCheckpointError, match="claims more data"):
        load_checkpoint_object(path)
