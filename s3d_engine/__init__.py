"""S3D engine: sketch -> semantic mask (S3D U-Net) -> pix2pix3D tri-plane generator -> labelled mesh."""

__version__ = "0.1.0"

from .errors import ConfigError, OutputError, S3DError, SketchError, WeightsError  # noqa: E402

__all__ = ["__version__", "S3DError", "SketchError", "WeightsError", "ConfigError", "OutputError", "S3DPipeline", "S3DResult"]


def __getattr__(name: str):
    # The pipeline pulls in torch; keep `import s3d_engine` light for tools that only need labels/cameras.
    if name in ("S3DPipeline", "S3DResult"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
