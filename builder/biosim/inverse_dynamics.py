"""Inverse dynamics with OpenSim's InverseDynamicsTool, plus the pelvis (root) residuals it implies."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from builder.biosim.opensim_model import opensim, quiet_stdout, tool_inputs
from builder.biosim.storage import StorageTable, read_storage, write_storage

CUTOFF_HZ = 6.0
"""Default low-pass cut-off of the coordinates (Hz): the usual gait-analysis value, also the GRF estimators'."""


@dataclass
class InverseDynamicsResult:
    """Generalized forces (N for translations, N m for rotations) and root residual summary."""

    table: StorageTable
    root_coordinates: list[str]
    residuals: dict[str, float]


def root_coordinates(model) -> list[str]:
    """Coordinates of the joint that connects the model to ground (the pelvis's 6 DOF)."""
    joints = model.getJointSet()
    for i in range(joints.getSize()):
        joint = joints.get(i)
        if joint.getParentFrame().findBaseFrame().getName() == "ground":
            return [joint.get_coordinates(k).getName() for k in range(joint.numCoordinates())]
    return []


def generalized_force_label(model, coordinate: str) -> str:
    """InverseDynamicsTool's column name of ``coordinate`` (``_moment`` or ``_force`` suffix)."""
    rotational = model.getCoordinateSet().get(coordinate).getMotionType() == 1
    return f"{coordinate}_{'moment' if rotational else 'force'}"


def run_inverse_dynamics(model_path: str | os.PathLike, coordinates_path: str | os.PathLike,
                         output_path: str | os.PathLike, external_loads_path: str | os.PathLike | None = None,
                         cutoff_hz: float = CUTOFF_HZ, time_range: tuple[float, float] | None = None,
                         ) -> InverseDynamicsResult:
    """Run ID (muscles and actuators excluded) and write the generalized forces to ``output_path``.

    Coordinates are low-pass filtered by the tool at ``cutoff_hz`` (negative: none), then splined.
    The output appears atomically; on failure a RuntimeError names the inputs.
    """
    osim = opensim()
    model, model_path, coordinates_path, output_path, start, end = tool_inputs(
        model_path, coordinates_path, output_path, time_range)
    with tempfile.TemporaryDirectory(prefix=".id_", dir=output_path.parent) as work:
        tool = osim.InverseDynamicsTool()
        tool.setName("inverse_dynamics")
        tool.setModelFileName(str(model_path.resolve()))
        tool.setCoordinatesFileName(str(coordinates_path.resolve()))
        tool.setLowpassCutoffFrequency(cutoff_hz)
        tool.setStartTime(float(start))
        tool.setEndTime(float(end))
        excluded = osim.ArrayStr()
        excluded.append("Muscles")
        excluded.append("Actuators")
        tool.setExcludedForces(excluded)
        if external_loads_path is not None:
            tool.setExternalLoadsFileName(str(Path(external_loads_path).resolve()))
        tool.setResultsDir(work)
        tool.setOutputGenForceFileName("id.sto")
        setup = Path(work) / "id_setup.xml"
        tool.printToXML(str(setup))
        with quiet_stdout():
            ok = osim.InverseDynamicsTool(str(setup)).run()
        produced = Path(work) / "id.sto"
        if not ok or not produced.is_file():
            raise RuntimeError(f"InverseDynamicsTool failed for model {model_path} and {coordinates_path}")
        table = read_storage(produced)
        if not np.all(np.isfinite(table.data)):
            raise RuntimeError(f"{coordinates_path}: inverse dynamics produced non-finite generalized forces")
        table.name = "inverse_dynamics"
        write_storage(output_path, table)
    roots = root_coordinates(model)
    return InverseDynamicsResult(table, roots, root_residuals(model, table, roots))


def residual_series(model, table: StorageTable, roots: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame norm of the root's residual force (N) and moment (N m), each (T,) (zeros if absent)."""
    forces, moments = [], []
    for name in roots:
        label = generalized_force_label(model, name)
        (moments if label.endswith("_moment") else forces).append(table.column(label))
    def norm(cols: list[np.ndarray]) -> np.ndarray:
        return np.linalg.norm(np.stack(cols, axis=1), axis=1) if cols else np.zeros(len(table.time))
    return norm(forces), norm(moments)


def root_residuals(model, table: StorageTable, roots: list[str]) -> dict[str, float]:
    """RMS and max |.| of the root's residual forces (N) and moments (N m), also per body weight."""
    state = model.initSystem()
    weight = model.getTotalMass(state) * float(np.linalg.norm(model.getGravity().to_numpy()))
    out: dict[str, float] = {}
    if not roots:
        return out
    for kind, norm in zip(("force_N", "moment_Nm"), residual_series(model, table, roots)):
        out[f"residual_{kind}_rms"] = float(np.sqrt(np.mean(norm ** 2)))
        out[f"residual_{kind}_max"] = float(norm.max())
    out["residual_force_rms_bw"] = out["residual_force_N_rms"] / weight
    return out
