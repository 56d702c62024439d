"""service.generate with the real pipeline (tiny random weights): the mesh event's files are the
final files, not exported a second time when the renders follow."""
from __future__ import annotations

from pathlib import Path

from s3d_engine import service
from s3d_engine.pipeline import S3DPipeline
from s3d_engine.results import is_complete

STROKES = [[[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8], [0.2, 0.2]], [[0.35, 0.6], [0.65, 0.6]]]


def test_the_result_keeps_the_mesh_files_of_the_mesh_event(tmp_path):
    out = tmp_path / "out"
    inodes = {}

    def emit(event):
        if event["event"] == "mesh":  # what the add-on may already be reading
            inodes.update({k: Path(p).stat().st_ino for k, p in event["files"].items() if k in ("ply", "glb")})
        events.append(event)

    events: list = []
    msg = {"protocol": service.PROTOCOL_VERSION, "id": "g", "cmd": "generate", "weights": "random:tiny:face",
           "sketch": {"strokes": STROKES}, "out_dir": str(out),
           "options": {"seed": 1, "mesh_resolution": 24, "formats": ["ply", "glb"], "device": "cpu", "domain": "face"}}
    service.generate(service.PipelineCache(lambda: S3DPipeline), msg, lambda stage, fraction: None, emit)
    assert [e["event"] for e in events] == ["mesh", "result"]
    final = events[-1]["files"]
    assert set(inodes) == {"ply", "glb"}
    assert {k: Path(final[k]).stat().st_ino for k in inodes} == inodes  # the same files, not rewritten
    assert Path(final["front"]).is_file() and is_complete(out)
