"""Documented limits on everything a user, a file or a request may ask of the engine, in one
place. Each bound keeps a request within about 3 GB of memory and minutes of compute on a laptop
CPU; docs/ERRORS.md quotes them. Inputs beyond them are refused with one clear line before
anything large is decoded, allocated or computed.

Why these numbers:
* mesh resolution 16..512: the coarse-to-fine grid holds float32 density + label logits for the
  active shell only, but marching cubes and the vertex attributes scale with the surface
  (~6 R^2 vertices): 512^3 is ~1.5 M vertices, the largest mesh a Blender user can still edit.
* turntable frames 0..120: each frame is a full render + super-resolution (~0.3 s on a CPU).
* smoothing 0..200 Taubin iterations: beyond ~100 the head visibly shrinks; each is O(vertices).
* decimation 0 (off) or 100..5,000,000 target faces.
* seed 0..2^32-1: what numpy/torch generators take without wrapping.
* truncation psi 0..2: StyleGAN's interpolation weight towards w_avg; >1 extrapolates.
* sketch images: 8192^2 pixels (64 Mpx, read from the header before decoding); a decoded image is
  reduced to WORK_SIDE before any float maths, so even RGBA at the budget peaks near 1 GB.
* weights: the model a sidecar describes is sized on the meta device and refused over
  MAX_MODEL_PARAMETERS (about 2x the paper model) before anything is allocated.
"""
from __future__ import annotations

MESH_RESOLUTION_MIN, MESH_RESOLUTION_MAX = 16, 512
FRAMES_MAX = 120
SMOOTH_MAX = 200
DECIMATE_MIN, DECIMATE_MAX = 100, 5_000_000
SEED_MAX = 2 ** 32 - 1
TRUNCATION_MIN, TRUNCATION_MAX = 0.0, 2.0
MESH_FORMATS = ("glb", "ply", "obj")
DOMAINS = ("face", "cat")
FIT_MODES = ("auto", "frame", "content")

# ---------------------------------------------------------------------------------------------
# Sketch images and stroke lists (s3d_engine/sketch.py)
# ---------------------------------------------------------------------------------------------
MAX_SKETCH_PIXELS = 8192 * 8192  # width x height, read from the header before decoding
MAX_IMAGE_SIDE = 65536  # longest side; long thin images are shrunk before they are padded
MAX_SKETCH_FILE_BYTES = 512 * 1024 * 1024  # an uncompressed 64 Mpx RGBA TIFF is 256 MiB
MIN_SKETCH_SIDE = 8  # shortest side of a sketch image, in pixels
WORK_SIDE = 4096  # a decoded image is reduced to this longest side before any float maths
MAX_RASTER_SIDE = 2048  # output side of normalisation and of the stroke rasteriser
MAX_SUPERSAMPLE = 8  # stroke rasteriser anti-aliasing factor
MAX_STROKES = 10_000  # polylines in one sketch
MAX_STROKE_POINTS = 200_000  # points over all polylines of one sketch
MAX_STROKE_COORD = 1000.0  # |x|, |y| of a rasterised point in canvas units (the canvas is 0..1)
MAX_STROKE_WIDTH = 0.5  # stroke width as a fraction of the image side

# ---------------------------------------------------------------------------------------------
# Weights files (s3d_engine/weights.py, s3d_engine/config.py)
# ---------------------------------------------------------------------------------------------
MAX_SIDECAR_BYTES = 1024 * 1024  # the .json beside a .safetensors file
MAX_SIDECAR_DEPTH = 32  # nesting of JSON containers in a sidecar
MAX_WEIGHTS_BYTES = 2 * 1024**3  # a .safetensors file (the paper model is 0.6 GB)
MAX_SAFETENSORS_HEADER_BYTES = 16 * 1024 * 1024
MAX_MODEL_PARAMETERS = 300_000_000  # U-Net + generator (the paper model has 145 M)
MAX_CONFIG_WIDTH = 4096  # any channel count, latent size or hidden width in a configuration
MAX_CONFIG_RESOLUTION = 1024  # any image or plane resolution in a configuration
MAX_CONFIG_LAYERS = 16  # list lengths and layer counts in a configuration
MAX_CHANNEL_BASE = 1 << 20  # StyleGAN channel_base

# ---------------------------------------------------------------------------------------------
# The pix2pix3D converter (s3d_engine/convert/)
# ---------------------------------------------------------------------------------------------
MAX_CHECKPOINT_BYTES = 8 * 1024**3  # the file given to convert-pix2pix3d
MAX_ZIP_ENTRIES = 100_000
MAX_ZIP_RATIO = 10  # declared uncompressed bytes per archive byte (torch.save stores, ratio 1)
MAX_ZIP_SLACK_BYTES = 1024 * 1024  # headroom for tiny archives where the ratio means little

# ---------------------------------------------------------------------------------------------
# Outputs (s3d_engine/results.py, s3d_engine/io_utils.py)
# ---------------------------------------------------------------------------------------------
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # result.json
STALE_TMP_AGE_S = 60.0  # save() removes its own leftover .tmp files older than this
