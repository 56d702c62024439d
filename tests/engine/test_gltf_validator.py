"""The GLB passes the Khronos glTF validator (npm `gltf-validator`) with no errors. CI installs
it with `npm install --prefix .tools gltf-validator`; the test runs wherever Node.js is present."""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from s3d_engine.mesh.export import glb_bytes
from s3d_engine.mesh.types import LabelledMesh

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / ".tools" / "node_modules" / "gltf-validator"


def validate(path: Path) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    if not VALIDATOR.exists():
        pytest.fail("gltf-validator is missing: run `npm install --prefix .tools gltf-validator`")
    out = subprocess.run([node, str(ROOT / "tests" / "tools" / "validate_gltf.js"), str(VALIDATOR), str(path)],
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_pipeline_glb_validates(tmp_path):
    from s3d_engine import S3DPipeline

    pipe = S3DPipeline.from_pretrained("random:tiny:face", device="cpu")
    mask = np.zeros((32, 32), np.uint8)
    mask[6:26, 8:24] = 1
    files = pipe(mask=mask, mesh_resolution=48).save(tmp_path, formats=("glb",))
    report = validate(files["glb"])
    assert report["numErrors"] == 0, report["messages"]


def test_linear_colours_are_written(tmp_path):
    mesh = LabelledMesh(vertices=np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32),
                        faces=np.array([[0, 1, 2]]), colors=np.full((3, 3), 128, np.uint8),
                        labels=np.array([0, 1, 2]), label_names=["a", "b", "c"])
    path = tmp_path / "t.glb"
    path.write_bytes(glb_bytes(mesh))
    assert validate(path)["numErrors"] == 0
    import trimesh

    loaded = next(iter(trimesh.load(path, process=False).geometry.values()))
    assert loaded.visual.vertex_colors[0, 0] == 55  # sRGB 128 -> linear 0.216 -> 55
