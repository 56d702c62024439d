import numpy as np
import pytest
import trimesh

from s3d_engine import S3DPipeline
from s3d_engine.config import get_config
from s3d_engine.errors import OptionsError, S3DError, SketchError
from s3d_engine.options import GenerateOptions
from s3d_engine.pipeline import Cancelled
from s3d_engine.sketch import rasterize_strokes
from s3d_engine.weights import save_weights


def face_strokes():
    t = np.linspace(0, 2 * np.pi, 40)
    return [np.stack([0.5 + 0.3 * np.cos(t), 0.5 + 0.4 * np.sin(t)], 1),
            np.array([[0.38, 0.42], [0.45, 0.42]]), np.array([[0.55, 0.42], [0.62, 0.42]]),
            np.array([[0.42, 0.72, 0.5], [0.5, 0.75, 1.0], [0.58, 0.72, 0.5]])]


@pytest.fixture(scope="module")
def pipe():
    return S3DPipeline.from_pretrained("random:tiny:face", device="cpu")


def test_generate_from_strokes_returns_a_typed_result(pipe):
    stages = []
    result = pipe(face_strokes(), seed=3, mesh_resolution=32, turntable_frames=2,
                  progress=lambda s, f: stages.append(s))
    assert stages[0] == "sketch" and stages[-1] == "done"
    assert result.mask.shape == (32, 32) and result.mask.dtype == np.uint8
    assert result.mask_rgb.shape == (32, 32, 3)
    assert result.front.shape == (32, 32, 3) and len(result.views) == 2
    m = result.mesh
    assert len(m.faces) > 0 and m.labels.max() < 19 and m.colors.shape == (len(m.vertices), 3)
    assert set(result.timings) >= {"unet", "mapping_synthesis", "render", "field_grid", "marching_cubes"}


def test_all_sketch_input_kinds_agree(pipe, tmp_path):
    img = rasterize_strokes(face_strokes(), 32)
    path = tmp_path / "s.png"
    from PIL import Image

    Image.fromarray((img * 255).astype(np.uint8)).save(path)
    a = pipe(str(path), mesh=False).mask
    b = pipe(Image.open(path), mesh=False).mask
    c = pipe((img * 255).astype(np.uint8), mesh=False).mask
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_seed_is_deterministic_and_changes_appearance(pipe):
    a = pipe(face_strokes(), seed=1, mesh=False)
    b = pipe(face_strokes(), seed=1, mesh=False)
    c = pipe(face_strokes(), seed=2, mesh=False)
    assert np.array_equal(a.front, b.front) and not np.array_equal(a.front, c.front)


def test_mask_input_and_bad_masks(pipe):
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 1
    assert pipe(mask=mask, mesh=False).mask[16, 16] == 1
    with pytest.raises(S3DError, match="0..18"):
        pipe(mask=np.full((32, 32), 30))


def test_cancel_from_progress_callback(pipe):
    def cancel(stage, fraction):
        if stage == "render":
            raise Cancelled("stopped by user")

    with pytest.raises(Cancelled):
        pipe(face_strokes(), progress=cancel)


def test_empty_sketch_is_a_clear_error(pipe):
    with pytest.raises(SketchError, match="empty"):
        pipe(np.ones((64, 64), np.float32))


def test_save_writes_loadable_meshes_with_colours_and_labels(pipe, tmp_path):
    files = pipe(face_strokes(), mesh_resolution=32, turntable_frames=2).save(tmp_path, formats=("glb", "ply", "obj"))
    assert {"glb", "ply", "obj", "mask", "front", "turntable", "summary"} <= set(files)
    ply = trimesh.load(files["ply"], process=False)
    assert ply.visual.kind == "vertex"
    labels = ply.metadata["_ply_raw"]["vertex"]["data"]["label"]
    assert len(labels) == len(ply.vertices) and labels.max() < 19
    glb = trimesh.load(files["glb"], process=False)
    mesh = next(iter(glb.geometry.values()))
    assert mesh.visual.kind == "vertex" and "_LABEL" in mesh.vertex_attributes
    assert len(mesh.vertex_attributes["_LABEL"]) == len(mesh.vertices)
    obj = trimesh.load(files["obj"], process=False)
    assert len(obj.vertices) == len(ply.vertices)
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temporaries


def test_from_pretrained_loads_saved_weights(tmp_path):
    cfg = get_config("tiny", "cat")
    src = S3DPipeline.from_config(cfg, device="cpu", seed=5)
    path = save_weights(tmp_path / "cat.safetensors", {"generator": src.generator, "unet": src.unet}, cfg)
    loaded = S3DPipeline.from_pretrained(path, device="cpu")
    assert loaded.info()["domain"] == "cat" and loaded.has_trained_unet
    mask = np.zeros((32, 32), np.uint8)
    assert np.array_equal(src(mask=mask, mesh=False).front, loaded(mask=mask, mesh=False).front)


def test_unknown_names_are_clear_errors():
    with pytest.raises(S3DError, match="no weights named"):
        S3DPipeline.from_pretrained("no-such-weights")
    with pytest.raises(S3DError, match="unknown configuration"):
        S3DPipeline.from_pretrained("random:huge:face")


def test_the_mesh_comes_first_and_the_render_may_be_skipped(pipe, tmp_path):
    events = []
    partial = []

    def on_mesh(r):
        events.append("on_mesh")
        partial.append(r)

    result = pipe(face_strokes(), GenerateOptions(seed=2, mesh_resolution=32), on_mesh=on_mesh,
                  progress=lambda stage, fraction: events.append(stage))
    assert events.index("mesh") < events.index("on_mesh") < events.index("render"), events
    (early,) = partial
    assert early.front is None and np.array_equal(early.mesh.vertices, result.mesh.vertices)
    assert result.front is not None and result.options.seed == 2
    quick = pipe(face_strokes(), seed=2, mesh_resolution=32, render=False,
                 progress=lambda stage, fraction: events.append("quick:" + stage))
    assert quick.front is None and "quick:render" not in events
    assert np.array_equal(quick.mesh.vertices, result.mesh.vertices)
    files = quick.save(tmp_path, formats=("ply",))
    assert "front" not in files and (tmp_path / "mesh.ply").is_file() and not (tmp_path / "front.png").exists()


def test_a_domain_that_does_not_match_the_weights_is_refused_before_work(pipe):
    stages = []
    with pytest.raises(OptionsError, match="are for the face domain, but domain 'cat' was asked for"):
        pipe(face_strokes(), domain="cat", progress=lambda s, f: stages.append(s))
    assert stages == []
    assert pipe.options(domain="face").domain == "face"


def test_the_docstring_examples_run():
    import doctest

    import s3d_engine.pipeline

    outcome = doctest.testmod(s3d_engine.pipeline)
    assert outcome.attempted >= 3 and outcome.failed == 0


def test_cancel_takes_effect_inside_the_mesh_grid(pipe, monkeypatch):
    import s3d_engine.mesh.grid as grid

    monkeypatch.setattr(grid, "CHECK_INTERVAL_S", 0.0)  # check at every chunk
    calls = []

    def progress(stage, fraction):
        calls.append(stage)
        if calls.count("mesh") == 3:  # the stage's start, then two grid chunks
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        pipe(face_strokes(), mesh_resolution=128, progress=progress,
             on_mesh=lambda r: pytest.fail("the mesh was finished"))
    assert calls.count("mesh") == 3 and "render" not in calls
