"""`s3d` command line: generate, batch, info, convert-pix2pix3d. Bad input ends with one clear
line on stderr and exit status 2, never a traceback."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from ._version import __version__
from . import limits
from .errors import S3DError
from .options import GenerateOptions

_DEFAULTS = GenerateOptions()


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", help="shipped weights name (e.g. face, cat) or a .safetensors path; default: the domain's shipped weights")
    p.add_argument("--domain", choices=list(limits.DOMAINS), default=None,
                   help="face or cat: picks the shipped weights, and is checked against --weights (default: face)")
    p.add_argument("--random-init", metavar="CONFIG", choices=["tiny", "small", "paper"],
                   help="use randomly initialised weights of this configuration (before trained weights exist)")
    p.add_argument("--device", default=_DEFAULTS.device, help="auto (CUDA if available), cpu, cuda, cuda:N, mps")


def _add_generate_args(p: argparse.ArgumentParser) -> None:
    """Every flag maps onto one GenerateOptions field, whose default it shows."""
    p.add_argument("--seed", type=int, default=_DEFAULTS.seed, help=f"0..{limits.SEED_MAX}")
    p.add_argument("--mesh-res", type=int, default=_DEFAULTS.mesh_resolution,
                   help=f"marching-cubes grid resolution ({limits.MESH_RESOLUTION_MIN}..{limits.MESH_RESOLUTION_MAX})")
    p.add_argument("--smooth", type=int, default=_DEFAULTS.smooth, metavar="N",
                   help=f"Taubin smoothing iterations (0..{limits.SMOOTH_MAX})")
    p.add_argument("--decimate", type=int, default=_DEFAULTS.decimate_faces, metavar="FACES",
                   help="decimate to this many faces (0 = off)")
    p.add_argument("--frames", type=int, default=_DEFAULTS.turntable_frames,
                   help=f"turntable frames (0..{limits.FRAMES_MAX}; 0 = none)")
    p.add_argument("--no-render", action="store_true", help="mesh and mask only: skip the front render")
    p.add_argument("--formats", default=",".join(_DEFAULTS.formats), help="mesh formats: any of glb,ply,obj")
    p.add_argument("--fit", choices=list(limits.FIT_MODES), default=_DEFAULTS.fit,
                   help="frame: keep the image framing; content: crop to the strokes")


def options_from_args(args: argparse.Namespace) -> GenerateOptions:
    """The one place where CLI flags become generation options (validated here, before any work)."""
    return GenerateOptions(seed=args.seed, mesh_resolution=args.mesh_res, smooth=args.smooth,
                           decimate_faces=args.decimate, formats=args.formats,
                           turntable_frames=args.frames, render=not args.no_render, fit=args.fit,
                           device=args.device, domain=args.domain)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3d", description="S3D for Blender engine: sketch -> labelled 3D head")
    parser.add_argument("--version", action="version", version=f"s3d {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="one sketch -> mesh (GLB, PLY), mask, front view and turntable")
    gen.add_argument("sketch", help="sketch image (black strokes on white)")
    gen.add_argument("-o", "--out", required=True, help="output folder")
    _add_model_args(gen)
    _add_generate_args(gen)

    batch = sub.add_parser("batch", help="every sketch in a folder; resumes where it stopped")
    batch.add_argument("in_dir")
    batch.add_argument("out_dir")
    _add_model_args(batch)
    _add_generate_args(batch)
    batch.add_argument("--redo", action="store_true", help="regenerate sketches that already have results")

    info = sub.add_parser("info", help="describe a weights file, or a named configuration")
    info.add_argument("weights", nargs="?", help="weights name or .safetensors path")
    info.add_argument("--config", choices=["tiny", "small", "paper"])
    info.add_argument("--domain", choices=["face", "cat"], default="face")
    info.add_argument("--keys", action="store_true", help="list generator state-dict names and shapes")
    info.add_argument("--json", action="store_true", help="print JSON")

    conv = sub.add_parser("convert-pix2pix3d", help="convert an official pix2pix3D .pkl to safetensors, safely")
    conv.add_argument("checkpoint")
    conv.add_argument("-o", "--out", required=True, help="output .safetensors path")
    return parser


def _pipeline(args: argparse.Namespace, opts: GenerateOptions):
    """Load the weights, and check the domain against them before any sketch is processed."""
    from .pipeline import S3DPipeline

    domain = opts.domain or "face"
    if args.random_init:
        name = f"random:{args.random_init}:{domain}"
    else:
        name = args.weights or domain
    pipe = S3DPipeline.from_pretrained(name, device=opts.device)
    pipe.options(opts)  # raises on a domain mismatch
    return pipe


def _generate_one(pipe, sketch: Path, out: Path, opts: GenerateOptions) -> dict[str, Path]:
    return pipe(str(sketch), opts).save(out)


def cmd_generate(args: argparse.Namespace) -> int:
    from .results import check_outputs

    opts = options_from_args(args)
    check_outputs(args.out, protect=[args.sketch])  # before the weights load: no compute is wasted
    pipe = _pipeline(args, opts)
    start = time.perf_counter()
    files = _generate_one(pipe, Path(args.sketch), Path(args.out), opts)
    print(f"wrote {len(files)} files to {args.out} in {time.perf_counter() - start:.1f} s")
    for kind, path in files.items():
        print(f"  {kind:10s} {path}")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .batch import run_batch

    opts = options_from_args(args)
    out_dir = Path(args.out_dir)
    try:
        report = run_batch(Path(args.in_dir), out_dir, opts, lambda: _pipeline(args, opts), redo=args.redo,
                           log=tqdm.write, wrap=lambda todo: tqdm(todo, desc="sketches", unit="sketch"))
    except KeyboardInterrupt:
        print(f"s3d: interrupted; the report so far is in {out_dir / 'batch_report.json'}", file=sys.stderr)
        return 130
    print(f"{report.done} generated, {report.skipped} skipped, {len(report.failed)} failed -> {out_dir}")
    return 1 if report.failed else 0


def cmd_info(args: argparse.Namespace) -> int:
    if args.config:
        from .config import get_config

        cfg = get_config(args.config, args.domain)
        data: dict = {"config": cfg.to_dict()}
        if args.keys:
            import torch

            from .models.generator import TriPlaneGenerator

            with torch.device("meta"):
                gen = TriPlaneGenerator(cfg)
            data = {k: list(v.shape) for k, v in gen.state_dict().items()}
    elif args.weights:
        from .catalog import resolve_weights
        from .weights import load_weights

        w = load_weights(resolve_weights(args.weights))
        meta = dict(w.metadata)
        data = {k: meta.get(k) for k in ("file", "sha256", "domain", "components", "parameters", "engine_version",
                                         "created", "training_command", "source", "source_sha256") if k in meta}
        data["config"] = meta["config"]["name"]
        data["label_names"] = meta.get("label_names")
        if args.keys:
            data = {f"{c}.{k}": list(t.shape) for c in w.components for k, t in w.tensors[c].items()}
    else:
        raise S3DError("give a weights file, or --config NAME")
    if args.json or args.keys:
        print(json.dumps(data, indent=None if args.keys else 2))
    else:
        for key, value in data.items():
            print(f"{key:16s} {value if key != 'config' or isinstance(value, str) else value['name']}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    try:
        from .convert.pix2pix3d import convert_checkpoint
    except ImportError as exc:  # pragma: no cover - the converter ships with the engine
        raise S3DError(f"converter unavailable: {exc}") from None
    out = convert_checkpoint(Path(args.checkpoint), Path(args.out))
    print(f"wrote {out} (+ {Path(out).with_suffix('.json').name})")
    return 0


COMMANDS = {"generate": cmd_generate, "batch": cmd_batch, "info": cmd_info, "convert-pix2pix3d": cmd_convert}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except S3DError as exc:
        print(f"s3d: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("s3d: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
