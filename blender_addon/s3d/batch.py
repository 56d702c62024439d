"""Headless batch: sketches in, labelled meshes out.

    blender -b -P <addon folder>/s3d/batch.py -- IN_DIR OUT_DIR [options]     (see --help)

Every sketch image in IN_DIR, and every Grease Pencil object of the .blend files in IN_DIR or
given with --blend (projected through the file's scene camera, else the front view), goes
through the engine worker. Results land in OUT_DIR/<item>/, each with a marker so that a
second run resumes where the first stopped. --save-blend also writes one .blend holding every
result. Progress goes to stdout; the exit code is 0 when every item succeeded, 1 when any
failed, 2 for bad arguments or an engine that cannot start.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Optional

if __name__ == "__main__" and not __package__:  # run as a script by `blender -P`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "s3d"  # noqa: A001 - lets the relative imports below work

import bpy  # noqa: E402

from . import capture
from .core import batch_plan, projection, worker_link  # noqa: E402
from .core.batch_plan import Item, Summary  # noqa: E402
from .core.client import WorkerClient, WorkerError  # noqa: E402
from .core.request import for_seed, generate_request  # noqa: E402


def log(msg: str) -> None:
    print(f"[s3d] {msg}", flush=True)


def capture_blend(path: str, view: str) -> list[tuple[str, Any, Optional[str]]]:
    """Open a .blend and capture every Grease Pencil object of its scene.
    Returns [(object name, CapturedSketch or None, error or None)]."""
    from .view import project_sketch

    bpy.ops.wm.open_mainfile(filepath=path)
    ctx = bpy.context
    scene = ctx.scene
    out = []
    for obj in sorted((o for o in scene.objects if capture.is_gp_object(o)), key=lambda o: o.name):
        try:
            world = capture.gp_object_strokes(obj, scene.frame_current)
            if not world.strokes:
                raise capture.CaptureError(f"{obj.name!r} has no strokes on frame {scene.frame_current}")
            out.append((obj.name, project_sketch(ctx, world, "CAMERA" if view == "camera" else "FRONT"), None))
        except capture.CaptureError as exc:
            out.append((obj.name, None, str(exc)))
    return out


def check_engine(client: WorkerClient, timeout: float = 300.0) -> Optional[str]:
    """Start the worker and ping it: None when it answers, else why it does not."""
    try:
        req = client.submit("ping")
        client.wait(req, timeout=timeout)
    except (WorkerError, TimeoutError) as exc:
        return str(exc)
    return None if req.state == "done" else (req.error or req.state)


def run_item(client: WorkerClient, item: Item, sketch_payload: dict, args, settings, out_root: str,
             index: int, total: int) -> dict:
    last = [None]

    def on_update(req):
        key = (req.stage, int(req.fraction * 10))
        if key != last[0]:
            last[0] = key
            log(f"({index}/{total}) {item.id}: {req.stage} {int(round(req.fraction * 100))}%")

    params = generate_request(settings, args.domain, sketch_payload, mesh_resolution=args.resolution,
                              smooth=0 if args.no_smooth else args.smooth, decimate_faces=args.decimate,
                              glb=args.glb)
    req = client.submit("generate", **for_seed(params, item.seed, item.out_dir(out_root)))
    try:
        client.wait(req, timeout=args.timeout, on_update=on_update)
    except TimeoutError:
        client.cancel(req)
        client.kill()
        raise RuntimeError(f"timed out after {args.timeout:.0f} s") from None
    if req.state != "done":
        raise RuntimeError(req.error or req.state)
    return req.event


def build_results_blend(path: str, out_root: str, items: list[Item], args) -> int:
    """Fresh file with one object per finished item, side by side, facing the front view."""
    from .importer import MeshImport
    from .core.plyio import read_ply

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    count = 0
    for item in items:
        marker = batch_plan.read_marker(out_root, item)
        if not marker or marker.get("status") != "done":
            continue
        base = item.out_dir(out_root)
        files = {k: os.path.join(base, v) for k, v in (marker.get("files") or {}).items()}
        mesh = read_ply(files["ply"])
        matrix = projection.placement_matrix((1.2 * count, 0.0, 0.0), projection.FRONT_BASIS, 1.0)
        MeshImport.from_result(mesh, marker, item.id, scene.collection, images=files,
                               parts_as_materials=not args.vertex_groups, matrix_world=matrix,
                               props={"s3d_seed": item.seed, "s3d_source": item.source, "s3d_item": item.id},
                               view_layer=bpy.context.view_layer, select=False).run()
        count += 1
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(path), check_existing=False)
    return count


def main(argv: Optional[list[str]] = None) -> int:
    argv = batch_plan.script_args(sys.argv if argv is None else argv)
    parser = batch_plan.build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on errors, 0 on --help
        return int(exc.code or 0)
    out_root = os.path.abspath(args.out_dir)
    os.makedirs(out_root, exist_ok=True)
    try:
        images, blends = batch_plan.find_inputs(args.in_dir, args.blend)
    except FileNotFoundError as exc:
        log(f"error: {exc}")
        return 2
    seed_list = batch_plan.seeds(args)
    taken: set[str] = set()
    work: list[tuple[Item, Optional[dict], Optional[str]]] = []  # (item, sketch payload, capture error)
    for item in batch_plan.image_items(images, seed_list, taken):
        work.append((item, {"image": item.source}, None))
    for blend in blends:
        log(f"reading {blend}")
        try:
            captured = capture_blend(blend, args.view)
        except RuntimeError as exc:
            log(f"error: cannot open {blend}: {exc}")
            captured = []
            work.append((Item(batch_plan.clean(os.path.basename(blend)), "gp", os.path.abspath(blend)), None, str(exc)))
        log(f"{os.path.basename(blend)}: {len(captured)} Grease Pencil object(s)")
        for name, sketch, error in captured:
            for item in batch_plan.gp_items(blend, [name], seed_list, taken):
                payload = {"strokes": sketch.strokes} if sketch is not None else None
                work.append((item, payload, error))
    all_items = [w[0] for w in work]
    total = len(work)
    log(f"{total} item(s) to convert into {out_root}")
    if total == 0:
        log(f"nothing to do: no sketch images ({', '.join(sorted(batch_plan.IMAGE_EXTS))}) or .blend files in {args.in_dir}")

    settings = worker_link.resolve_settings(args.python, args.weights, args.device, args.engine_root)
    client = WorkerClient(settings.python, pythonpath=[settings.engine_root] if settings.engine_root else [],
                          log=lambda line: print(f"[s3d worker] {line}", file=sys.stderr, flush=True))
    if any(args.overwrite or not batch_plan.is_done(out_root, w[0]) for w in work):
        problem = check_engine(client)
        if problem is not None:  # once, before any item: no failure record for the first one
            client.shutdown()
            log(batch_plan.engine_error_line(problem))
            return 2
    summary = Summary()
    t_start = time.monotonic()
    try:
        for index, (item, payload, error) in enumerate(work, 1):
            if not args.overwrite and batch_plan.is_done(out_root, item):
                summary.skipped.append(item.id)
                log(f"({index}/{total}) {item.id}: already done, skipped")
                continue
            t0 = time.monotonic()
            try:
                if error is not None:
                    raise RuntimeError(error)
                event = run_item(client, item, payload, args, settings, out_root, index, total)
            except WorkerError as exc:
                log(f"error: {exc}")
                summary.failed[item.id] = str(exc)
                batch_plan.write_marker(out_root, item, "failed", error=str(exc))
                return _finish(summary, out_root, all_items, args, code=2)
            except Exception as exc:  # noqa: BLE001 - recorded, the batch goes on
                summary.failed[item.id] = str(exc)
                batch_plan.write_marker(out_root, item, "failed", error=str(exc))
                log(f"({index}/{total}) {item.id}: FAILED: {exc}")
                if args.fail_fast:
                    break
                continue
            batch_plan.write_marker(
                out_root, item, "done", files=event.get("files") or {}, timings=event.get("timings") or {},
                label_names=event.get("label_names") or [], palette=event.get("palette") or [],
                domain=event.get("domain"), frame_extent=event.get("frame_extent"), seconds=time.monotonic() - t0)
            summary.done.append(item.id)
            log(f"({index}/{total}) {item.id}: done in {time.monotonic() - t0:.1f} s")
    finally:
        client.shutdown()
    log(f"finished in {time.monotonic() - t_start:.1f} s: {summary.line()}")
    return _finish(summary, out_root, all_items, args, code=0 if summary.ok else 1)


def _finish(summary: Summary, out_root: str, items: list[Item], args, code: int) -> int:
    extra: dict[str, Any] = {}
    if args.save_blend is not None and code != 2:
        path = args.save_blend or os.path.join(out_root, "s3d_results.blend")
        try:
            n = build_results_blend(path, out_root, items, args)
            log(f"saved {n} result(s) in {path}")
            extra["blend"] = path
        except Exception as exc:  # noqa: BLE001
            log(f"error: could not save {path}: {exc}")
            code = code or 1
    summary.write(out_root, extra)
    if summary.failed:
        for name, err in summary.failed.items():
            log(f"failed: {name}: {err}")
    return code


def _exit(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    if not bpy.app.binary_path:
        # The bpy module (pip install bpy): 4.5's C++ teardown can hang after Python has finished
        # (docs/BLENDER.md); every file is written by now, so leave without it.
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    _exit(main())
