"""The declarative tables of ULBS-112 (package data under ``data/``), loaded and checked.

Bilateral entries (muscles, wrap objects, markers) are written once for the right side;
``mirror_*`` helpers give the left side (reflection z -> -z across the sagittal plane).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

from biohuman10m.errors import BioHumanError

SIDES: tuple[str, ...] = ("r", "l")
MUSCLE_TABLES: tuple[str, ...] = ("muscles_lower_limb.yaml", "muscles_trunk_upper_limb.yaml")
WRAP_TABLES: tuple[str, ...] = ("wrap_objects_lower_limb.yaml", "wrap_objects_trunk_upper_limb.yaml")


class TableError(BioHumanError, ValueError):
    """A declarative table is missing, malformed or inconsistent."""


def load_table(name: str) -> Any:
    """Parse ``data/<name>`` (YAML); raise :class:`TableError` naming the file on failure."""
    path = resources.files(__package__).joinpath("data", name)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TableError(f"model table {path} is missing") from exc
    except yaml.YAMLError as exc:
        raise TableError(f"model table {path} is not valid YAML: {exc}") from exc


def _require(entry: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if k not in entry]
    if missing:
        raise TableError(f"{where}: missing {', '.join(missing)}")


@functools.lru_cache(maxsize=None)
def skeleton() -> dict:
    """Bodies and joints (with coordinates), both sides written out."""
    table = load_table("skeleton.yaml")
    for body in table["bodies"]:
        _require(body, ("name", "mass", "mass_center", "inertia"), f"skeleton.yaml body {body.get('name')}")
    for joint in table["joints"]:
        _require(joint, ("name", "type", "parent", "child", "coordinates"), f"skeleton.yaml joint {joint.get('name')}")
    return table


@functools.lru_cache(maxsize=None)
def muscle_model() -> dict:
    """Muscle class and the curve parameters shared by every muscle."""
    return load_table("muscle_model.yaml")


@functools.lru_cache(maxsize=None)
def muscles() -> dict[str, dict]:
    """Right-side muscle definitions keyed by base name (``soleus``, ``deltmid``...)."""
    rows: dict[str, dict] = {}
    for name in MUSCLE_TABLES:
        for row in load_table(name)["muscles"]:
            where = f"{name} muscle {row.get('name')}"
            _require(row, ("name", "max_isometric_force", "optimal_fiber_length", "tendon_slack_length",
                           "pennation_angle", "path"), where)
            if len(row["path"]) < 2:
                raise TableError(f"{where}: a path needs at least two points")
            if row["name"] in rows:
                raise TableError(f"{where}: defined twice")
            rows[row["name"]] = row
    return rows


@functools.lru_cache(maxsize=None)
def wrap_objects() -> dict[str, dict]:
    """Right-side wrap objects keyed by base name."""
    rows: dict[str, dict] = {}
    for name in WRAP_TABLES:
        for row in load_table(name)["wrap_objects"]:
            _require(row, ("name", "body", "type", "translation", "xyz_body_rotation"),
                     f"{name} wrap {row.get('name')}")
            rows[row["name"]] = row
    return rows


@functools.lru_cache(maxsize=None)
def markers() -> dict[str, dict]:
    """Marker locations keyed by landmark base name (midline names have no side)."""
    return load_table("markers.yaml")["markers"]


@functools.lru_cache(maxsize=None)
def scale_measurements() -> dict[str, dict]:
    """ScaleTool measurements: name -> {marker_pairs, bodies}, keyed by measurement name."""
    return load_table("scale_measurements.yaml")["measurements"]


def midline_bodies() -> frozenset[str]:
    """Bodies without a side suffix (pelvis, torso, head)."""
    return frozenset(b["name"] for b in skeleton()["bodies"] if not b["name"].endswith(("_r", "_l")))


def sided_body(body: str, side: str) -> str:
    """``femur`` -> ``femur_r``; midline bodies are returned unchanged."""
    return body if body in midline_bodies() else f"{body}_{side}"


def mirror_point(xyz: list[float], side: str) -> list[float]:
    """A right-side location on ``side``."""
    return [xyz[0], xyz[1], -xyz[2]] if side == "l" else list(xyz)


def mirror_rotation(xyz_body_rotation: list[float], side: str) -> list[float]:
    """A right-side body-fixed XYZ rotation reflected across the sagittal plane."""
    a, b, c = xyz_body_rotation
    return [-a, -b, c] if side == "l" else [a, b, c]


def mirror_quadrant(quadrant: str, side: str) -> str:
    """Wrap quadrants ``+z``/``-z`` swap under the reflection; others are unchanged."""
    if side == "l" and quadrant.endswith("z"):
        return {"+z": "-z", "-z": "+z", "z": "-z"}.get(quadrant, quadrant)
    return quadrant
