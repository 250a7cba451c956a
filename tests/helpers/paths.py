"""Where the tests find the project and the shared reference data.

The reference data (real OpenSim models and gait trials) lives in ``../shared/reference`` next to the
checkout and is never copied into the project; tests that need it skip, with the reason, when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = PROJECT_ROOT.parent / "shared" / "reference"
OPENSIM_MODELS = REFERENCE_DIR / "opensim-models"
RAJAGOPAL_MODEL = OPENSIM_MODELS / "Models" / "Rajagopal" / "Rajagopal2016.osim"
RAJAGOPAL_PIPELINE = OPENSIM_MODELS / "Pipelines" / "Rajagopal"


def require_reference(path: Path = REFERENCE_DIR) -> Path:
    """``path`` inside the reference data; skips the calling test when it is absent."""
    if not path.exists():
        pytest.skip(f"reference data not found: {path} (the shared reference data sits in ../shared/reference "
                    "next to the checkout; without it the tests on real OpenSim trials are skipped)")
    return path
