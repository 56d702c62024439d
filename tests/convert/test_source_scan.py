"""Embedded `module_src` is data: import-time code is refused, method bodies are ignored, and
nothing runs either way (s3d_engine/convert/source_scan.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from s3d_engine.config import get_config
from s3d_engine.convert import pix2pix3d as conv
from s3d_engine.convert.errors import UnsafeCheckpointError
from tests.convert import p2p3d_fixture as fx


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
