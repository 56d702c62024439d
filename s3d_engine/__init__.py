"""S3D engine: sketch -> semantic mask (S3D U-Net) -> pix2pix3D tri-plane generator -> labelled mesh."""

from ._version import __version__
from .errors import ConfigError, OptionsError, OutputError, S3DError, SketchError, WeightsError
from .options import GenerateOptions

__all__ = ["__version__", "S3DError", "SketchError", "WeightsError", "ConfigError", "OptionsError", "OutputError",
           "GenerateOptions", "S3DPipeline", "S3DResult"]


def __getattr__(name: str):
    # The pipeline pulls in torch; keep `import s3d_engine` light for tools that only need labels/cameras.
    if name in ("S3DPipeline", "S3DResult"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
