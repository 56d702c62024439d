"""The sidebar panels inside real Blender (bpy wheels): drawn into a recording layout
(fake_layout.py), since no region ever draws in background mode. Covers issue 9's domain gating,
the error box with Copy Error, the Last Result after undo, and the image previews."""
import pytest

from conftest import make_gp_object
from fake_layout import draw_panel

bpy = pytest.importorskip("bpy")


def state():
    return bpy.context.window_manager.s3d_state


def domain_buttons(layout):
    return {w[1][2]: w[4] for w in layout.widgets("prop_enum") if w[1][1] == "domain"}


def test_domains_without_weights_are_greyed_out_with_the_reason(addon, clean_scene):
    from s3d import props, ui
    from s3d.core import worker_link

    worker_link.remember_info(None)
    try:
        assert domain_buttons(draw_panel(ui.S3D_PT_main, bpy.context)) == {"FACE": True, "CAT": True}  # nothing known
        worker_link.remember_info({"weights_found": ["/w/face.safetensors"]})  # what a Check reported
        assert domain_buttons(draw_panel(ui.S3D_PT_main, bpy.context)) == {"FACE": True, "CAT": False}
        tips = {i[0]: i[2] for i in props.domain_items(None, bpy.context)}
        assert tips["FACE"] == "Human face (19 parts)"
        assert tips["CAT"].startswith("No cat weights") and "found: face" in tips["CAT"]
        assert clean_scene.s3d.domain == "FACE"
        clean_scene.s3d.domain = "CAT"  # the dynamic enum still stores and reads both
        assert clean_scene.s3d.domain == "CAT"
    finally:
        worker_link.remember_info(None)


def test_the_check_caches_what_the_engine_found(addon, clean_scene, fake_worker_env):
    from s3d.core import worker_link

    worker_link.remember_info(None)
    assert bpy.ops.s3d.check_engine() == {"FINISHED"}
    assert worker_link.known_weights() is not None
    worker_link.remember_info(None)


def test_the_full_error_is_in_the_panel_with_copy_error(addon, clean_scene, fake_worker_env, monkeypatch):
    from s3d import operators, ui
    from s3d.core import worker_link

    make_gp_object(bpy, "Face")
    long_path = "/no/such/" + "very_long_folder_name/" * 6 + "python"
    monkeypatch.setenv("S3D_ENGINE_PYTHON", long_path)
    worker_link.shutdown()
    with pytest.raises(RuntimeError, match="engine Python not found"):
        bpy.ops.s3d.generate()
    error = state().last_error
    assert long_path in error and "add-on preferences" in error
    layout = draw_panel(ui.S3D_PT_main, bpy.context)
    lines = [w[2]["text"] for w in layout.widgets("label")]
    assert len(lines) >= 3 and "".join(lines).replace(" ", "") == error.replace(" ", "")  # wrapped, not cut
    assert [w[1][0] for w in layout.widgets("operator")].count("s3d.copy_error") == 1
    copied = []
    monkeypatch.setattr(operators, "set_clipboard", lambda wm, text: copied.append(text))
    assert bpy.ops.s3d.copy_error() == {"FINISHED"}
    assert copied == [error]


def test_a_new_generate_clears_the_old_error(addon, clean_scene, fake_worker_env):
    make_gp_object(bpy, "Face")
    state().last_error = "an old failure"
    assert bpy.ops.s3d.generate() == {"FINISHED"}
    assert state().last_error == ""
    assert not bpy.ops.s3d.copy_error.poll()


def test_last_result_forgets_an_object_that_undo_removed(addon, clean_scene, fake_worker_env):
    from s3d import ui

    make_gp_object(bpy, "Face")
    assert bpy.ops.s3d.generate() == {"FINISHED"}
    assert state().last_object == "Face_s3d" and ui.S3D_PT_result.poll(bpy.context)
    for name in ("undo_post", "redo_post", "load_post"):
        assert ui.forget_removed_result in getattr(bpy.app.handlers, name)
    bpy.data.objects.remove(bpy.data.objects["Face_s3d"])  # what Ctrl+Z does to it
    assert not ui.S3D_PT_result.poll(bpy.context)  # never names a missing object, even before the handler
    for handler in bpy.app.handlers.undo_post:
        if handler is ui.forget_removed_result:
            handler(bpy.context.scene)
    assert (state().last_object, state().last_mask, state().last_front) == ("", "", "")


def test_handlers_are_removed_on_unregister(clean_scene):
    import s3d
    from s3d import ui

    s3d.register()
    s3d.unregister()
    for name in ("undo_post", "redo_post", "load_post"):
        assert ui.forget_removed_result not in getattr(bpy.app.handlers, name)


def test_last_result_shows_mask_and_front_previews(addon, clean_scene, fake_worker_env):
    from s3d import ui

    make_gp_object(bpy, "Face")
    assert bpy.ops.s3d.generate() == {"FINISHED"}
    layout = draw_panel(ui.S3D_PT_result, bpy.context)
    icons = layout.widgets("template_icon")
    assert len(icons) == 2 and all(w[2]["scale"] >= 5 for w in icons)
    opened = [(w[1][0], w[3].image) for w in layout.widgets("operator")]
    assert opened == [("s3d.show_image", state().last_mask), ("s3d.show_image", state().last_front)]
    assert all(bpy.data.images[name].preview is not None for _, name in opened)


def operators(layout):
    return [w[1][0] for w in layout.widgets("operator")]


def test_the_panel_offers_install_engine_until_there_is_one(addon, clean_scene, monkeypatch):
    from types import SimpleNamespace

    from s3d import install_ops, prefs, ui

    monkeypatch.setattr(prefs, "settings_from_context", lambda context: SimpleNamespace(python=""))
    layout = draw_panel(ui.S3D_PT_main, bpy.context)
    assert operators(layout)[0] == "s3d.install_engine"
    button = layout.widgets("operator")[0]
    assert button[2]["text"].startswith("Install Engine (~0.") and "GB)" in button[2]["text"]
    # while it installs: the stage as progress, and Cancel
    job = SimpleNamespace(finished=False, fraction=0.4, stage="Installing torch (the large download)", state="running")
    monkeypatch.setattr(install_ops, "_job", job)
    layout = draw_panel(ui.S3D_PT_main, bpy.context)
    assert layout.widgets("progress")[0][2] == {"factor": 0.4, "type": "BAR", "text": job.stage}
    assert operators(layout)[0] == "s3d.cancel_install"
    # a failed install says why, in full
    job.finished, job.state = True, "failed"
    job.message = "Installing torch (the large download) failed: no connection to the package index; connect"
    text = " ".join(w[2]["text"] for w in draw_panel(ui.S3D_PT_main, bpy.context).widgets("label"))
    assert "no connection to the package index; connect" in text
    # once an engine is there, the panel is about sketches again
    monkeypatch.setattr(install_ops, "_job", None)
    monkeypatch.setattr(prefs, "settings_from_context", lambda context: SimpleNamespace(python="/e/bin/python"))
    assert "s3d.install_engine" not in operators(draw_panel(ui.S3D_PT_main, bpy.context))
