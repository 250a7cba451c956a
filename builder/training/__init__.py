"""Training BioHuman and its baselines with Accelerate (``biohuman train``, ``scripts/train.py``).

``trainer`` (config, loop, resumable checkpoints), ``window_sampling`` (deterministic per-epoch
order), ``model_card`` (README.md with ``model-index``), ``command`` (the CLI), and ``configs/``:
the training configs shipped with the package, selectable by name (``tiny``) or by path.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
"""The packaged training configs (``<name>.yaml``)."""
