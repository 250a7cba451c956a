"""Training BioHuman and its baselines with Accelerate (``biohuman train``, ``scripts/train.py``).

``trainer`` (config, loop, resumable checkpoints), ``window_sampling`` (deterministic per-epoch
order), ``model_card`` (README.md with ``model-index``), ``command`` (the CLI), and ``configs/``:
the training configs shipped with the package, selectable by name (``tiny``) or by path.
"""

from __future__ import annotations

import os
from pathlib import Path

from biohuman10m.errors import MissingInputError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
"""The packaged training configs (``<name>.yaml``)."""


def config_names() -> list[str]:
    """Names of the packaged training configs."""
    return sorted(path.stem for path in CONFIG_DIR.glob("*.yaml"))


def config_path(config: str | os.PathLike) -> Path:
    """The YAML file of a training config given by path, or by the name of a packaged config."""
    path = Path(config)
    if path.is_file():
        return path
    if path.suffix == "" and path.name == str(config) and (CONFIG_DIR / f"{path.name}.yaml").is_file():
        return CONFIG_DIR / f"{path.name}.yaml"
    raise MissingInputError(path, f"training config not found (neither a file nor a packaged config: "
                            f"{', '.join(config_names())})")
