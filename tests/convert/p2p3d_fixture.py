"""Writes fixture checkpoints in pix2pix3D's on-disk format, from a flat G_ema state dict.

pix2pix3D's `training_loop.py` saves `pickle.dump(dict(training_set_kwargs=..., G=..., D=...,
G_ema=..., augment_pipe=..., D_semantic=...))`. Inside, StyleGAN's persistent classes reduce to
`torch_utils.persistence._reconstruct_persistent_obj(meta)` with meta keys type='class',
version=6, module_src, class_name and state (the module `__dict__`); the decoder, renderer, ray
marcher and ray sampler are plain classes pickled by import path (NEWOBJ + BUILD); torch
containers and activations likewise; tensors and parameters pickle through torch's own
`__reduce_ex__`. This module reproduces that with local stand-ins that exist in `sys.modules`
only while a file is being written.
"""
from __future__ import annotations

import collections
import contextlib
import io
import math
import pickle
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import torch

PERSISTENCE = "torch_utils.persistence"

# Benign stand-ins for the embedded sources (the real ones are the upstream .py files).
SOURCES = {
    "networks_stylegan2": "import numpy as np\nimport torch\n\n\n"
                          "class FullyConnectedLayer(torch.nn.Module):\n    pass\n\n\n"
                          "class Conv2dLayer(torch.nn.Module):\n    pass\n\n\n"
                          "class DiscriminatorBlock(torch.nn.Module):\n    pass\n\n\n"
                          "class SynthesisLayer(torch.nn.Module):\n    pass\n\n\n"
                          "class ToRGBLayer(torch.nn.Module):\n    pass\n\n\n"
                          "class SynthesisBlock(torch.nn.Module):\n    pass\n\n\n"
                          "class SynthesisNetwork(torch.nn.Module):\n    pass\n",
    "triplane_cond": "import os\nimport torch\nfrom training.networks_stylegan2 import FullyConnectedLayer\n\n\n"
                     "class EqualConv2d(torch.nn.Module):\n    pass\n\n\n"
                     "class Encoder(torch.nn.Module):\n    pass\n\n\n"
                     "class MaskMappingNetwork_disentangle(torch.nn.Module):\n    pass\n\n\n"
                     "class Generator_cond(torch.nn.Module):\n    pass\n\n\n"
                     "class TriPlaneSemanticEntangleGenerator(torch.nn.Module):\n"
                     "    def save(self, path):\n        with open(path, 'w') as f:\n            f.write('x')\n",
    "superresolution": "import torch\n\n\nclass SuperresolutionHybrid8XDC(torch.nn.Module):\n    pass\n\n\n"
                       "class SuperresolutionHybrid8XDC_semantic(torch.nn.Module):\n    pass\n",
    "dual_discriminator": "import torch\n\n\nclass DualDiscriminator(torch.nn.Module):\n    pass\n",
}

PAPER_RENDERING_KWARGS = {
    "image_resolution": 512, "disparity_space_sampling": False, "clamp_mode": "softplus",
    "superresolution_module": "training.superresolution.SuperresolutionHybrid8XDC",
    "c_gen_conditioning_zero": False, "gpc_reg_prob": 0.5, "c_scale": 1.0,
    "superresolution_noise_mode": "none", "density_reg": 0.25, "density_reg_p_dist": 0.004,
    "reg_type": "l1", "decoder_lr_mul": 1.0, "sr_antialias": True, "depth_resolution": 48,
    "depth_resolution_importance": 48, "ray_start": 2.25, "ray_end": 3.3, "box_warp": 1,
    "avg_camera_radius": 2.7, "avg_camera_pivot": [0, 0, 0.2],
}


@dataclass
class Node:
    """One module of the fake tree. `persistent` nodes become persistence records; the others
    are pickled by `import_path`."""

    class_name: str
    persistent: bool = True
    import_path: str | None = None
    source: str = "networks_stylegan2"
    module_src: str | None = None
    version: int = 6
    params: dict[str, torch.Tensor | None] = field(default_factory=dict)
    buffers: dict[str, torch.Tensor | None] = field(default_factory=dict)
    non_persistent: set[str] = field(default_factory=set)
    modules: dict[str, "Node | None"] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    def module_dict(self) -> dict[str, Any]:
        state = {
            "training": False,
            "_parameters": collections.OrderedDict(
                (k, None if v is None else torch.nn.Parameter(v, requires_grad=False)) for k, v in self.params.items()),
            "_buffers": collections.OrderedDict(self.buffers),
            "_non_persistent_buffers_set": set(self.non_persistent),
            "_backward_hooks": collections.OrderedDict(),
            "_is_full_backward_hook": None,
            "_forward_hooks": collections.OrderedDict(),
            "_forward_pre_hooks": collections.OrderedDict(),
            "_state_dict_hooks": collections.OrderedDict(),
            "_load_state_dict_pre_hooks": collections.OrderedDict(),
            "_load_state_dict_post_hooks": collections.OrderedDict(),
            "_modules": collections.OrderedDict(self.modules),
        }
        state.update(self.attrs)
        return state


def _stub_reconstruct(meta):  # pragma: no cover - written into files by reference, never called
    raise AssertionError("fixture stand-in: never called")


_stub_reconstruct.__module__ = PERSISTENCE
_stub_reconstruct.__name__ = _stub_reconstruct.__qualname__ = "_reconstruct_persistent_obj"


class _EasyDict(dict):
    pass


_EasyDict.__module__, _EasyDict.__name__, _EasyDict.__qualname__ = "dnnlib.util", "EasyDict", "EasyDict"

_IMPORT_PATH_CLASSES = (
    "training.triplane_cond.OSGDecoder_semantic_lateSeparate",
    "training.volumetric_rendering.renderer.ImportanceRenderer",
    "training.volumetric_rendering.ray_marcher.MipRayMarcher2",
    "training.volumetric_rendering.ray_sampler.RaySampler",
)


@contextlib.contextmanager
def _fake_modules(extra_globals: Mapping[str, Any] | None = None) -> Iterator[dict[str, type]]:
    """Register `torch_utils.persistence`, `dnnlib.util` and the `training.*` classes, only while
    writing; never replaces a module that is really installed."""
    created: list[str] = []
    classes: dict[str, type] = {}

    def module(name: str) -> types.ModuleType:
        if name in sys.modules:
            return sys.modules[name]
        mod = types.ModuleType(name)
        sys.modules[name] = mod
        created.append(name)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(module(parent), child, mod)
        return mod

    try:
        module(PERSISTENCE)._reconstruct_persistent_obj = _stub_reconstruct
        module("dnnlib.util").EasyDict = _EasyDict
        for path in _IMPORT_PATH_CLASSES:
            mod_name, _, cls_name = path.rpartition(".")
            cls = type(cls_name, (), {"__module__": mod_name})
            setattr(module(mod_name), cls_name, cls)
            classes[path] = cls
        for path, obj in (extra_globals or {}).items():
            mod_name, _, name = path.rpartition(".")
            setattr(module(mod_name), name, obj)
        yield classes
    finally:
        for name in reversed(created):
            sys.modules.pop(name, None)


class FixturePickler(pickle.Pickler):
    """Reduces persistent `Node`s the way `torch_utils.persistence` does; materialises the others
    as instances of their import-path classes."""

    def __init__(self, file, classes: dict[str, type], protocol: int = 4) -> None:
        super().__init__(file, protocol=protocol)
        self.classes = classes

    def reducer_override(self, obj):
        if isinstance(obj, Node):
            if not obj.persistent:
                raise AssertionError("non-persistent nodes are materialised by their parent")
            meta = dict(type="class", version=obj.version,
                        module_src=obj.module_src if obj.module_src is not None else SOURCES[obj.source],
                        class_name=obj.class_name, state=_state(obj, self.classes))
            return _stub_reconstruct, (meta,)
        return NotImplemented


def _state(node: Node, classes: dict[str, type]) -> dict[str, Any]:
    state = node.module_dict()
    state["_modules"] = collections.OrderedDict(
        (k, v if v is None or v.persistent else _materialise(v, classes)) for k, v in node.modules.items())
    return state


def _materialise(node: Node, classes: dict[str, type]) -> Any:
    """An instance of the node's import-path class, which pickles as NEWOBJ + BUILD."""
    if node.import_path in classes:
        inst = classes[node.import_path].__new__(classes[node.import_path])
    else:  # a real torch.nn class, e.g. torch.nn.modules.container.Sequential
        mod_name, _, cls_name = node.import_path.rpartition(".")
        cls = getattr(sys.modules[mod_name], cls_name)
        inst = cls.__new__(cls)
    inst.__dict__.update(_state(node, classes))
    return inst


# ---------------------------------------------------------------------------------------------
# Building the tree of a pix2pix3D G_ema from a flat state dict
# ---------------------------------------------------------------------------------------------

_PERSISTENT_RULES = (
    # (predicate on the dotted path, class name, source)
    (lambda p: p == "", "TriPlaneSemanticEntangleGenerator", "triplane_cond"),
    (lambda p: p == "backbone", "Generator_cond", "triplane_cond"),
    (lambda p: p == "backbone.mapping", "MaskMappingNetwork_disentangle", "triplane_cond"),
    (lambda p: p == "backbone.mapping.embed_mask", "Encoder", "triplane_cond"),
    (lambda p: p == "backbone.mapping.embed_mask.projector", "EqualConv2d", "triplane_cond"),
    (lambda p: p.startswith("backbone.mapping.embed_mask.b") and p.count(".") == 3, "DiscriminatorBlock", "networks_stylegan2"),
    (lambda p: p.startswith("backbone.mapping.embed_mask.b"), "Conv2dLayer", "networks_stylegan2"),
    (lambda p: p.startswith("backbone.mapping."), "FullyConnectedLayer", "networks_stylegan2"),
    (lambda p: p == "backbone.synthesis", "SynthesisNetwork", "networks_stylegan2"),
    (lambda p: p == "superresolution", "SuperresolutionHybrid8XDC", "superresolution"),
    (lambda p: p == "superresolution_semantic", "SuperresolutionHybrid8XDC_semantic", "superresolution"),
    (lambda p: p.endswith(".affine"), "FullyConnectedLayer", "networks_stylegan2"),
    (lambda p: p.endswith(".torgb"), "ToRGBLayer", "networks_stylegan2"),
    (lambda p: p.endswith((".conv0", ".conv1")), "SynthesisLayer", "networks_stylegan2"),
    (lambda p: p.rsplit(".", 1)[-1].startswith(("b", "block")), "SynthesisBlock", "networks_stylegan2"),
    (lambda p: p.startswith("decoder.net") and p.count(".") == 2, "FullyConnectedLayer", "networks_stylegan2"),
)


def _node_for(path: str) -> Node:
    if path == "decoder":
        return Node("OSGDecoder_semantic_lateSeparate", persistent=False,
                    import_path="training.triplane_cond.OSGDecoder_semantic_lateSeparate",
                    attrs={"sigmoid": False})
    if path in ("decoder.net", "decoder.net_semantic"):
        return Node("Sequential", persistent=False, import_path="torch.nn.modules.container.Sequential")
    for match, class_name, source in _PERSISTENT_RULES:
        if match(path):
            return Node(class_name, source=source)
    return Node("FullyConnectedLayer")  # anything else (tests add stray modules)


def build_g_ema(state_dict: Mapping[str, torch.Tensor], parameter_names: set[str] | None = None) -> Node:
    """The module tree of pix2pix3D's G_ema holding `state_dict`. Tensors whose last name part is
    a known buffer (`resample_filter`, `noise_const`, `w_avg`, `alpha`) go to `_buffers`, the rest
    to `_parameters`, as in the upstream modules."""
    buffer_names = {"resample_filter", "noise_const", "w_avg", "alpha"}
    root = _node_for("")
    nodes = {"": root}

    def get(path: str) -> Node:
        if path not in nodes:
            parent, _, name = path.rpartition(".")
            node = _node_for(path)
            get(parent).modules[name] = node
            nodes[path] = node
        return nodes[path]

    for key, tensor in state_dict.items():
        module_path, _, name = key.rpartition(".")
        node = get(module_path)
        is_buffer = name in buffer_names if parameter_names is None else key not in parameter_names
        (node.buffers if is_buffer else node.params)[name] = tensor
    # Parameter-free modules that exist upstream.
    for seq in ("decoder.net", "decoder.net_semantic"):
        if seq in nodes:
            seq_node = nodes[seq]
            ordered = collections.OrderedDict()
            for idx in sorted(list(seq_node.modules) + ["1"], key=int):
                ordered[idx] = seq_node.modules.get(idx) or Node(
                    "Softplus", persistent=False, import_path="torch.nn.modules.activation.Softplus",
                    attrs={"beta": 1.0, "threshold": 20.0})
            seq_node.modules = ordered
    marcher = Node("MipRayMarcher2", persistent=False, import_path="training.volumetric_rendering.ray_marcher.MipRayMarcher2")
    root.modules["renderer"] = Node("ImportanceRenderer", persistent=False,
                                    import_path="training.volumetric_rendering.renderer.ImportanceRenderer",
                                    modules={"ray_marcher": marcher},
                                    attrs={"plane_axes": torch.eye(3).repeat(3, 1, 1)})
    root.modules["ray_sampler"] = Node("RaySampler", persistent=False,
                                       import_path="training.volumetric_rendering.ray_sampler.RaySampler",
                                       attrs={"ray_origins_h": None, "ray_directions": None})
    # Typical non-tensor attributes, including numpy scalars (StyleGAN's weight gains).
    classes = next((int(t.shape[1]) for k, t in state_dict.items() if k.endswith("fromrgb.weight")), 19)
    rendering = dict(PAPER_RENDERING_KWARGS)
    if classes == 6:  # pix2pix3D's afhq config
        rendering["avg_camera_pivot"] = [0, 0, -0.06]
    root.attrs.update({
        "_init_args": (), "_init_kwargs": _EasyDict(z_dim=512, c_dim=25, w_dim=512, img_resolution=512,
                                                    img_channels=3, semantic_channels=classes,
                                                    mapping_kwargs=_EasyDict(num_layers=2, geometry_layer=9),
                                                    rendering_kwargs=dict(rendering)),
        "rendering_kwargs": rendering, "neural_rendering_resolution": 128,
        "_last_planes": None,
    })
    for path, node in nodes.items():
        if node.class_name in ("FullyConnectedLayer", "Conv2dLayer"):
            node.attrs.update({"activation": "linear", "weight_gain": np.float64(1 / math.sqrt(512)),
                               "bias_gain": 1.0, "act_gain": 1.0, "conv_clamp": None})
    # A non-persistent buffer, which state_dict() leaves out.
    root.buffers["scratch"] = torch.zeros(2)
    root.non_persistent.add("scratch")
    return root


def snapshot(g_ema: Any, *, with_d: bool = True) -> dict[str, Any]:
    """pix2pix3D's snapshot dict around a G_ema."""
    d = Node("DualDiscriminator", source="dual_discriminator",
             params={"weight": torch.randn(4, 3)}, buffers={"resample_filter": torch.ones(4, 4) / 16})
    return {
        "training_set_kwargs": _EasyDict(class_name="training.dataset.ImageFolderDataset", path="data/celebamask.zip",
                                        use_labels=True, max_size=None, xflip=False, resolution=512),
        "G": None, "D": d if with_d else None, "G_ema": g_ema, "augment_pipe": None,
        "D_semantic": d if with_d else None,
    }


def dumps(obj: Any, protocol: int = 4, extra_globals: Mapping[str, Any] | None = None) -> bytes:
    buf = io.BytesIO()
    with _fake_modules(extra_globals) as classes:
        if isinstance(obj, Node) and not obj.persistent:
            obj = _materialise(obj, classes)
        FixturePickler(buf, classes, protocol=protocol).dump(obj)
    return buf.getvalue()


def write_checkpoint(path: Path, state_dict: Mapping[str, torch.Tensor], protocol: int = 4, **kwargs: Any) -> Path:
    path.write_bytes(dumps(snapshot(build_g_ema(state_dict), **kwargs), protocol=protocol))
    return path


def cheap_full_size(shapes: Mapping[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors of the given (full) shapes that pickle in a few bytes each: overlapping
    windows of a short random vector (every stride 1, so t[i, j, ...] = pool[i + j + ...]).
    No two rows are equal, yet a whole paper checkpoint pickles in a few hundred kB."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        shape = tuple(shape)
        pool = torch.randn(sum(s - 1 for s in shape) + 1, generator=gen)
        out[key] = pool.as_strided(shape, (1,) * len(shape)) if shape else pool[0].clone()
    return out
