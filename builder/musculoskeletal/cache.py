"""The generated ULBS-112 file, built once per table version into the BioHuman cache folder."""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path

from builder.musculoskeletal.generator import MODEL_NAME, build_model


def cache_dir() -> Path:
    """``$BIOHUMAN_CACHE`` or ``~/.cache/biohuman``."""
    return Path(os.environ.get("BIOHUMAN_CACHE", Path.home() / ".cache" / "biohuman"))


def tables_digest() -> str:
    """Short hash of the model tables and generator: a new version gets a new cached file."""
    digest = hashlib.sha256()
    data = resources.files(__package__).joinpath("data")
    for entry in sorted(data.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            digest.update(entry.name.encode() + entry.read_bytes())
    digest.update(resources.files(__package__).joinpath("generator.py").read_bytes())
    return digest.hexdigest()[:12]


def default_model_path() -> Path:
    """Path of the generic (unscaled) ULBS-112 model, generating it on first use (atomic write)."""
    path = cache_dir() / "models" / f"{MODEL_NAME}-{tables_digest()}.osim"
    if not path.is_file():
        build_model(path)
    return path
