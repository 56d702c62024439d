"""Hostile and damaged pickles for the refusal tests: payloads that run code under stock
pickle, a pix2pix3D snapshot carrying extra entries, and a hand-built legacy torch.save stream."""
from __future__ import annotations

import os
import pickle
import subprocess
from pathlib import Path

import torch

from s3d_engine.convert.torch_save import LEGACY_MAGIC
from tests.convert import p2p3d_fixture as fx


class Payload:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def payloads(sentinel: Path):
    import builtins

    return {
        "os.system": Payload(os.system, (f"touch {sentinel}",)),
        "builtins.eval": Payload(builtins.eval, (f"open({str(sentinel)!r}, 'w').close()",)),
        "builtins.exec": Payload(builtins.exec, (f"open({str(sentinel)!r}, 'w').close()",)),
        "subprocess.Popen": Payload(subprocess.Popen, (["touch", str(sentinel)],)),
        "builtins.getattr": Payload(getattr, ("os", "system")),
        "pathlib.Path.touch": Payload(Path.touch, (sentinel,)),
    }


def snapshot_bytes(extra: dict | None = None, g_ema=None, **kw) -> bytes:
    snap = fx.snapshot(g_ema if g_ema is not None else fx.build_g_ema({"decoder.net.0.weight": torch.zeros(2, 2)}))
    snap.update(extra or {})
    return fx.dumps(snap, **kw)


def legacy_stream(body: bytes, keys: list[str]) -> bytes:
    """A legacy torch.save stream around a pickled `body`: magic number, protocol, system info,
    `body`, the storage key list, and no data section."""
    return (pickle.dumps(LEGACY_MAGIC, protocol=2) + pickle.dumps(1001, protocol=2)
            + pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {}}, protocol=2)
            + body + pickle.dumps(keys, protocol=2))
