"""Blender add-on benchmark: UI-thread blocking during Generate, and warm Generate latency
against the engine's own latency.

Two ways to run it (the engine always runs in its own venv, given by --engine-python):

  # bpy wheel (no window): Blender's event loop is simulated: the controller's step() is called
  # every TIMER_INTERVAL, exactly what the modal operator does on each TIMER event
  .venv-bpy-5.0/bin/python benchmarks/bench_addon.py --engine-python .venv/bin/python

  # a real Blender GUI (Debian's 3.4 under Xvfb): the modal operator runs in Blender's own event
  # loop, and a 5 ms heartbeat timer measures how long the UI thread was really blocked
  xvfb-run -a -s "-screen 0 1280x800x24" blender --factory-startup -P benchmarks/bench_addon.py -- \
      --gui --engine-python .venv/bin/python

Measured:
  engine latency  the engine's own warm latency: S3DPipeline(strokes, ...) called in-process in the
                  engine venv on the very same 2D strokes (median of --runs, after one warm-up)
  add-on latency  warm Generate: from the operator's start (capture) until the labelled mesh is
                  in the scene (median of --runs, worker and model already warm)
  ratio           add-on / engine (target <= 1.2)
  UI blocking     the longest single stretch the UI thread spent in add-on code (module mode: each
                  start()/step(); GUI mode: the largest gap between heartbeats minus its period)
                  (target <= 50 ms)
Writes a JSON report with --json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "blender_addon"))

ENGINE_SCRIPT = r"""
import json, sys, time
import numpy as np
import torch
from s3d_engine import S3DPipeline
args = json.loads(sys.argv[1])
if args["nice"]:
    import os
    os.nice(args["nice"])  # the same priority as the add-on's worker
pipe = S3DPipeline.from_pretrained(args["weights"], device=args["device"])
print(json.dumps({"ready": True, "threads": torch.get_num_threads()}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    strokes = [np.asarray(s, dtype=np.float64) for s in req["strokes"]]
    t = time.perf_counter()
    with torch.no_grad():
        pipe(strokes, seed=req["seed"], mesh_resolution=args["resolution"], smooth=args["smooth"])
    print(json.dumps({"seconds": time.perf_counter() - t}), flush=True)
"""


def face_strokes(scale=1.0):
    out = [[(0.5 * scale * math.cos(2 * math.pi * t / 48), 0.0, 0.65 * scale * math.sin(2 * math.pi * t / 48))
            for t in range(49)]]
    for ex in (-0.18, 0.18):
        out.append([(ex * scale + 0.08 * scale * math.cos(2 * math.pi * t / 16), 0.0,
                     0.15 * scale + 0.04 * scale * math.sin(2 * math.pi * t / 16)) for t in range(17)])
    out.append([(0.0, 0.0, 0.05 * scale), (-0.04 * scale, 0.0, -0.12 * scale), (0.04 * scale, 0.0, -0.12 * scale)])
    out.append([(-0.2 * scale + 0.4 * scale * t / 12, 0.0, -0.32 * scale - 0.05 * scale * math.sin(math.pi * t / 12))
                for t in range(13)])
    return out


def make_gp(bpy, name="Sketch"):
    scene = bpy.context.scene
    v3 = bpy.app.version >= (4, 3, 0)
    coll = getattr(bpy.data, "grease_pencils_v3", None) if v3 else None
    data = (coll if coll is not None else bpy.data.grease_pencils).new(name)
    obj = bpy.data.objects.new(name, data)
    scene.collection.objects.link(obj)
    mat = bpy.data.materials.new("ink")
    bpy.data.materials.create_gpencil_data(mat)
    data.materials.append(mat)
    layer = data.layers.new("Lines")
    strokes = face_strokes()
    if v3:
        d = layer.frames.new(1).drawing
        d.add_strokes([len(s) for s in strokes])
        for st, pts in zip(d.strokes, strokes):
            for p, co in zip(st.points, pts):
                p.position, p.radius = co, 0.01
    else:
        fr = layer.frames.new(1)
        for pts in strokes:
            st = fr.strokes.new()
            st.display_mode = "3DSPACE"
            st.line_width = 12
            st.points.add(len(pts))
            for p, co in zip(st.points, pts):
                p.co, p.pressure = co, 1.0
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    return obj


class EngineBaseline:
    """The engine on its own: S3DPipeline called in-process in the engine venv, one call per request.
    Runs are interleaved with the add-on's so both see the same machine load."""

    def __init__(self, args):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        payload = json.dumps({"weights": args.weights, "device": args.device, "resolution": args.resolution,
                              "smooth": 0 if args.no_smooth else 10, "nice": args.nice})
        self.proc = subprocess.Popen([args.engine_python, "-c", ENGINE_SCRIPT, payload], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.info = json.loads(self.proc.stdout.readline())

    def run(self, strokes_2d, seed) -> float:
        self.proc.stdin.write(json.dumps({"strokes": strokes_2d, "seed": seed}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("engine baseline process died")
        return json.loads(line)["seconds"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)


def set_engine_env(args):
    os.environ["S3D_WORKER_NICE"] = str(args.nice)
    os.environ["S3D_ENGINE_PYTHON"] = os.path.abspath(args.engine_python)
    os.environ["S3D_ENGINE_ROOT"] = str(ROOT)
    os.environ["S3D_WEIGHTS"] = args.weights
    os.environ["S3D_DEVICE"] = args.device


def configure_scene(bpy, args):
    s = bpy.context.scene.s3d
    s.mesh_resolution = args.resolution
    s.smooth = not args.no_smooth


def report(args, engine_times, addon_runs, blocking_ms, mode, blender_version, extra=None) -> dict:
    eng = statistics.median(engine_times)
    add = statistics.median(addon_runs)
    pair = statistics.median(a / e for a, e in zip(addon_runs, engine_times))
    out = {
        "mode": mode, "blender": blender_version, "weights": args.weights, "device": args.device,
        "mesh_resolution": args.resolution, "smooth": not args.no_smooth, "runs": args.runs, "nice": args.nice,
        "engine_warm_s": eng, "engine_times_s": engine_times, "addon_warm_s": add, "addon_times_s": addon_runs,
        "ratio_of_medians": add / eng, "ratio_median_pairwise": pair,
        "ui_block_max_ms": max(blocking_ms), "ui_block_p99_ms": sorted(blocking_ms)[int(0.99 * (len(blocking_ms) - 1))],
        "ui_samples": len(blocking_ms), "command": " ".join(sys.argv),
    }
    out.update(extra or {})
    print(f"\nBlender {blender_version} ({mode}), weights {args.weights}, mesh resolution {args.resolution}, "
          f"{args.runs} warm runs, engine and add-on runs interleaved")
    print(f"  engine warm latency (median): {eng * 1000:8.1f} ms   runs: {', '.join(f'{t * 1000:.0f}' for t in engine_times)}")
    print(f"  add-on warm Generate (median): {add * 1000:7.1f} ms   runs: {', '.join(f'{t * 1000:.0f}' for t in addon_runs)}")
    print(f"  ratio add-on / engine: {add / eng:.3f} (medians), {pair:.3f} (median of run pairs)   (target <= 1.2)")
    print(f"  UI thread blocked, max: {out['ui_block_max_ms']:.1f} ms (target <= 50), p99 {out['ui_block_p99_ms']:.1f} ms, "
          f"{len(blocking_ms)} samples")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"  report: {args.json}")
    return out


# ---- module mode (bpy wheel) ------------------------------------------------------------------------
def run_module(args) -> int:
    import bpy

    import s3d
    from s3d import controller, operators

    set_engine_env(args)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    s3d.register()
    baseline = EngineBaseline(args)
    try:
        make_gp(bpy)
        configure_scene(bpy, args)
        ctx = bpy.context
        blocking, latencies, engine_times, worker_runs = [], [], [], []
        cold_block = 0.0

        def addon_run(seed):
            ctl = controller.GenerateController.from_scene(ctx, 1)
            ctl.seeds = [seed]
            t0 = time.perf_counter()
            ctl.start(ctx)
            while ctl.step(ctx) == "running":
                # the operator's TIMER periods: slow while polling, fast between import slices
                time.sleep(operators.IMPORT_INTERVAL if ctl.importing else operators.TIMER_INTERVAL)
            latency = time.perf_counter() - t0
            if ctl.state != "finished":
                raise SystemExit(f"Generate failed: {ctl.errors}")
            for o in ctl.objects:
                bpy.data.objects.remove(o)
            return latency, ctl

        _, ctl = addon_run(0)  # cold: starts the worker and loads the model
        cold_block = max(ctl.step_times) * 1000
        strokes_2d = ctl.sketch.strokes
        baseline.run(strokes_2d, 0)  # engine warm-up
        for i in range(1, args.runs + 1):
            first_engine = i % 2 == 1
            if first_engine:
                engine_times.append(baseline.run(strokes_2d, i))
            latency, ctl = addon_run(i)
            if not first_engine:
                engine_times.append(baseline.run(strokes_2d, i))
            latencies.append(latency)
            blocking += [t * 1000 for t in ctl.step_times]
            tm = (ctl.session.jobs[0].request.event or {}).get("timings", {})
            in_worker = tm.get("worker_total", 0.0) - tm.get("worker_save", 0.0) - tm.get("worker_load", 0.0)
            worker_runs.append(in_worker)
            k = max(range(len(ctl.step_times)), key=ctl.step_times.__getitem__)
            print(f"run {i}: engine {engine_times[-1] * 1000:.0f} ms, add-on {latency * 1000:.0f} ms "
                  f"(pipeline inside the worker {in_worker * 1000:.0f} ms, saving files {tm.get('worker_save', 0) * 1000:.0f} ms), "
                  f"max step {max(ctl.step_times) * 1000:.1f} ms ({ctl.step_notes[k]})", flush=True)
        report(args, engine_times, latencies, blocking, "bpy module, simulated event loop", bpy.app.version_string,
               {"cold_run_ui_block_max_ms": cold_block, "engine_threads": baseline.info.get("threads"),
                "pipeline_in_worker_s": worker_runs,
                "overhead_median_s": statistics.median(a - w for a, w in zip(latencies, worker_runs))})
        print(f"  add-on overhead beyond the pipeline's own time in the worker (median): "
              f"{statistics.median(a - w for a, w in zip(latencies, worker_runs)) * 1000:.0f} ms")
    finally:
        baseline.close()
        s3d.unregister()
    return 0


# ---- GUI mode (real Blender window) -------------------------------------------------------------------
def run_gui(args) -> None:
    import bpy

    import s3d
    from s3d import controller

    set_engine_env(args)
    s3d.register()
    HEARTBEAT = 0.005
    st = {"steps": [], "beats": [], "phase": "setup", "i": 0, "t0": 0.0, "runs": [], "engine": [], "gaps": [], "strokes": None}
    baseline = EngineBaseline(args)

    def heartbeat():
        st["beats"].append(time.perf_counter())
        return HEARTBEAT

    def view3d_override():
        win = bpy.context.window_manager.windows[0]
        area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
        region = next(r for r in area.regions if r.type == "WINDOW")
        return {"window": win, "screen": win.screen, "area": area, "region": region}

    def driver():
        if st["phase"] == "setup":
            make_gp(bpy)
            configure_scene(bpy, args)
            st["phase"] = "settle"
            st["settle"] = (time.perf_counter(), time.process_time(), time.perf_counter())
            return 1.0
        if st["phase"] == "settle":
            # Blender renders material previews and compiles shaders (llvmpipe under Xvfb) for a
            # while after new datablocks appear; wait until it is idle so only Generate is measured
            t_start, c_prev, t_prev = st["settle"]
            now, cpu = time.perf_counter(), time.process_time()
            busy = (cpu - c_prev) / max(1e-6, now - t_prev)
            st["settle"] = (t_start, cpu, now)
            if busy > 0.1 and now - t_start < 60:
                return 1.0
            print(f"Blender idle after {now - t_start:.0f} s (CPU {busy * 100:.0f}%)", flush=True)
            st["phase"] = "launch"
            return 0.1
        if st["phase"] == "launch":
            i = st["i"]
            if i > 0 and i % 2 == 1:
                st["engine"].append(baseline.run(st["strokes"], i))
            st["beats"] = []
            st["t0"] = time.perf_counter()
            st["cpu0"] = time.process_time()
            with bpy.context.temp_override(**view3d_override()):
                bpy.context.scene.s3d.seed = i
                bpy.ops.s3d.generate("INVOKE_DEFAULT")
                st["ctl"] = controller.ACTIVE
            st["phase"] = "wait"
            return 0.002
        if st["phase"] == "wait":
            ctl = st["ctl"]
            if ctl.state == "running":
                if time.perf_counter() - st["t0"] > 600:
                    print("timed out", flush=True)
                    bpy.ops.wm.quit_blender()
                    return None
                return 0.002
            latency = time.perf_counter() - st["t0"]
            beats = st["beats"]
            gaps = [(b - a - HEARTBEAT) * 1000 for a, b in zip(beats, beats[1:])]
            i = st["i"]
            if ctl.state != "finished":
                print(f"Generate failed: {ctl.errors}", flush=True)
                bpy.ops.wm.quit_blender()
                return None
            if i == 0:
                st["strokes"] = ctl.sketch.strokes
                baseline.run(st["strokes"], 0)  # engine warm-up
            else:
                if i % 2 == 0:
                    st["engine"].append(baseline.run(st["strokes"], i))
                st["runs"].append(latency)
                st["gaps"] += gaps
                st["steps"] += [t * 1000 for t in ctl.step_times]
            big = [(round((a - st["t0"]) * 1000), round(g)) for a, g in zip(beats, gaps) if g > 50]
            req = ctl.session.jobs[0].request
            print(f"  gaps > 50 ms (start ms, length ms): {big}; result received at "
                  f"{(req.finished_at - ctl.started) * 1000 if req.finished_at else -1:.0f} ms", flush=True)
            job = req.event or {}
            print(f"  worker total {job.get('timings', {}).get('worker_total', 0) * 1000:.0f} ms, "
                  f"Blender CPU {(time.process_time() - st['cpu0']) * 1000:.0f} ms", flush=True)
            print(f"run {i}: add-on {latency * 1000:.0f} ms, max UI gap {max(gaps, default=0):.1f} ms, "
                  f"max add-on step {max(ctl.step_times) * 1000:.1f} ms"
                  + (f", engine {st['engine'][-1] * 1000:.0f} ms" if i > 0 else " (cold)"), flush=True)
            for o in ctl.objects:
                bpy.data.objects.remove(o)
            st["i"] += 1
            if st["i"] <= args.runs:
                st["phase"] = "settle"
                st["settle"] = (time.perf_counter(), time.process_time(), time.perf_counter())
                return 1.0
            report(args, st["engine"], st["runs"], st["gaps"], "real Blender GUI under Xvfb, 5 ms heartbeat timer",
                   bpy.app.version_string, {"engine_threads": baseline.info.get("threads"),
                                            "addon_code_max_ms": max(st["steps"])})
            print(f"  longest single add-on start()/step() call: {max(st['steps']):.1f} ms")
            baseline.close()
            s3d.unregister()
            bpy.ops.wm.quit_blender()
        return None

    def safe_driver():
        try:
            return driver()
        except Exception:  # noqa: BLE001 - never leave a GUI Blender running
            import traceback

            traceback.print_exc()
            bpy.ops.wm.quit_blender()
            return None

    bpy.app.timers.register(heartbeat, first_interval=1.0)
    bpy.app.timers.register(safe_driver, first_interval=2.0)


def parse(argv):
    p = argparse.ArgumentParser(description="UI blocking and warm latency of the S3D Blender add-on")
    p.add_argument("--engine-python", default=os.environ.get("S3D_ENGINE_PYTHON", str(ROOT / ".venv" / "bin" / "python")))
    p.add_argument("--weights", default="random:small:face", help="weights for both sides (default random:small:face)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--resolution", type=int, default=128, help="mesh resolution (the panel's default is 128)")
    p.add_argument("--no-smooth", action="store_true")
    p.add_argument("--runs", type=int, default=6)
    p.add_argument("--nice", type=int, default=int(os.environ.get("S3D_WORKER_NICE", "10")),
                   help="CPU niceness of both the engine baseline and the worker (the add-on's default is 10)")
    p.add_argument("--json", default="", help="write the report here")
    p.add_argument("--gui", action="store_true", help="inside a real Blender GUI (run through blender -P)")
    return p.parse_args(argv)


if __name__ == "__main__":
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    a = parse(argv)
    if a.gui:
        run_gui(a)
    else:
        sys.exit(run_module(a))
