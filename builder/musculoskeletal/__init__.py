"""ULBS-112: BioHuman's full-body OpenSim model (112 muscles, 87 bony-landmark markers).

The model is generated from declarative tables in ``data/`` (skeleton, muscles, wrap objects,
markers, scale measurements) by :func:`build_model`; :func:`default_model_path` caches it.
"""

from builder.musculoskeletal.cache import cache_dir, default_model_path
from builder.musculoskeletal.generator import MODEL_NAME, build_model

__all__ = ["MODEL_NAME", "build_model", "cache_dir", "default_model_path"]
