"""Static optimization with OpenSim (AnalyzeTool + StaticOptimization) and its reserve actuators.

The problem per frame: minimise sum(x_i ** exponent) over the model's actuators (muscle
activations, coordinate-actuator controls) so the actuators reproduce the measured accelerations
given gravity and the external loads; muscles use their force-length-velocity state with a rigid
tendon (``use_muscle_physiology``). Coordinates that no muscle can move (the pelvis's 6 DOF) and
any other free coordinate get reserve :class:`~opensim.CoordinateActuator`\\ s described by
:class:`ReserveSpec`; :mod:`builder.biosim.fast_so` adds exactly the same ones.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from builder.biosim.inverse_dynamics import root_coordinates
from builder.biosim.opensim_model import opensim, quiet_stdout, tool_inputs
from builder.biosim.storage import StorageTable, read_storage, write_storage


def muscle_spanned_coordinates(model) -> set[str]:
    """Coordinates of the joints that at least one muscle crosses (its path has points on both sides),
    found from the model's topology: no pose, no moment-arm evaluation."""
    return set().union(*muscle_crossed_coordinates(model).values())


def muscle_crossed_coordinates(model) -> dict[str, set[str]]:
    """Per muscle, the coordinates of the joints its path crosses (points on both sides), from the model's
    topology alone."""
    osim = opensim()
    joints = model.getJointSet()
    parent_joint = {}   # body -> the joint that has it as child
    for i in range(joints.getSize()):
        joint = joints.get(i)
        parent_joint[joint.getChildFrame().findBaseFrame().getName()] = joint
    crossed_by: dict[str, set[str]] = {}
    muscles = model.getMuscles()
    for k in range(muscles.getSize()):
        points = muscles.get(k).getGeometryPath().getPathPointSet()
        bodies = {points.get(i).getParentFrame().findBaseFrame().getName() for i in range(points.getSize())}
        chains = []
        for body in bodies:   # the joints from each attachment body down to ground
            chain = []
            while body in parent_joint:
                chain.append(parent_joint[body])
                body = parent_joint[body].getParentFrame().findBaseFrame().getName()
            chains.append([j.getName() for j in chain])
        shared = set.intersection(*(set(c) for c in chains)) if chains else set()
        crossed = {name for chain in chains for name in chain} - shared
        coordinates = set()
        for name in crossed:
            joint = osim.Joint.safeDownCast(joints.get(name))
            coordinates.update(joint.get_coordinates(i).getName() for i in range(joint.numCoordinates()))
        crossed_by[muscles.get(k).getName()] = coordinates
    return crossed_by


@dataclass(frozen=True)
class ReserveSpec:
    """Reserve actuators (CoordinateActuators ``reserve_<coordinate>``) for every free coordinate
    without a coordinate actuator in the model.

    * Root (pelvis) coordinates and coordinates no muscle crosses (e.g. the wrists): optimal force
      ``residual_force``, unbounded. They carry what nothing else can; no muscle competes with them,
      so their optimal force does not change the muscles' solution; 100 keeps their controls O(1)
      (with 1, OpenSim's optimizer failed on most frames of a sway-heavy walk).
    * Coordinates that muscles cross: optimal force ``reserve_force`` (N m per unit control) and
      controls bounded by ``reserve_max_control``. Under the sum-of-squared-controls objective a
      reserve torque ``tau`` costs ``(tau / reserve_force) ** 2``: with 1 N m, 5 N m of reserve cost
      as much as 25 fully active muscles, so muscles carry the load whenever they can and reserves
      take only the marginal N m (a few hundredths of a N m on a normal walk). The bound (10 N m by
      default, about 5-15 % of an adult's peak hip, knee or ankle moment in walking) stops them from
      taking over: a frame whose moments the muscles cannot produce becomes infeasible, and the
      solvers report its unexplained moment instead of hiding it.
    """

    residual_force: float = 100.0
    reserve_force: float = 1.0           # 0 disables the joint reserves
    reserve_max_control: float = 10.0    # bound on joint-reserve controls (torque <= bound * force)
    extra: dict[str, float] = field(default_factory=dict)  # coordinate -> optimal force override

    def actuators(self, model) -> dict[str, tuple[float, float]]:
        """Coordinate name -> (optimal force, control bound) of every reserve to add to ``model``."""
        state = model.getWorkingState()
        coords = model.getCoordinateSet()
        driven = set()
        acts = model.getActuators()
        for i in range(acts.getSize()):
            ca = opensim().CoordinateActuator.safeDownCast(acts.get(i))
            if ca is not None:
                driven.add(ca.get_coordinate())
        unmuscled = set(root_coordinates(model)) | ({coords.get(i).getName() for i in range(coords.getSize())}
                                                    - muscle_spanned_coordinates(model))
        out: dict[str, tuple[float, float]] = {}
        for i in range(coords.getSize()):
            c = coords.get(i)
            name = c.getName()
            if c.getLocked(state) or c.isDependent(state) or name in driven:
                continue
            if name in unmuscled:
                out[name] = (self.residual_force, np.inf)
            elif self.reserve_force > 0:
                out[name] = (self.reserve_force, self.reserve_max_control)
        out.update({name: (force, self.reserve_max_control) for name, force in self.extra.items()})
        return out


def reserve_torques(controls: StorageTable, reserves: dict[str, tuple[float, float]]) -> StorageTable:
    """Reserve torques/forces (N m or N) by coordinate from the controls of the ``reserves`` (columns
    ``reserve_<coordinate>``; the model's own actuators' columns are left out)."""
    columns = [k for k, label in enumerate(controls.labels) if label.removeprefix("reserve_") in reserves
               and label.startswith("reserve_")]
    names = [controls.labels[k].removeprefix("reserve_") for k in columns]
    forces = np.array([reserves[name][0] for name in names])
    return StorageTable(controls.time, names, controls.data[:, columns] * forces, name="reserve_torques")


def _reserve_actuators(reserves: dict[str, tuple[float, float]]) -> list:
    osim = opensim()
    actuators = []
    for coordinate, (optimal_force, bound) in reserves.items():
        act = osim.CoordinateActuator(coordinate)
        act.setName(f"reserve_{coordinate}")
        act.setOptimalForce(float(optimal_force))
        act.setMinControl(-float(bound))
        act.setMaxControl(float(bound))
        actuators.append(act)
    return actuators


def add_reserves(model, reserves: dict[str, tuple[float, float]]) -> None:
    """Append the reserve CoordinateActuators (``reserve_<coordinate>``) to ``model``; call
    ``initSystem`` afterwards. (``adoptAndAppend``: ``Model.addForce`` costs ~20 ms per call.)"""
    for act in _reserve_actuators(reserves):
        model.updForceSet().adoptAndAppend(act)


def write_reserve_force_set(path: Path, reserves: dict[str, tuple[float, float]]) -> None:
    """The reserves as an OpenSim ForceSet XML file (for the AnalyzeTool's ``force_set_files``)."""
    force_set = opensim().ForceSet()
    for act in _reserve_actuators(reserves):
        force_set.adoptAndAppend(act)
    force_set.printToXML(str(path))


@dataclass
class StaticOptimizationResult:
    """Per-frame muscle activations (``table``, muscle columns), reserve controls and solver report."""

    table: StorageTable
    reserves: StorageTable
    constraint_violation: np.ndarray   # (T,) per frame (OpenSim's report, or ||A x - tau|| of the fast solver)
    seconds: float                     # wall time of the solve, model loading included
    timings: dict = field(default_factory=dict)
    reserve_torques: StorageTable | None = None  # N m (N) by coordinate: controls x optimal force
    smoothed: StorageTable | None = None     # activations of the sequence solve with smoothness (fast solver)
    moments: StorageTable | None = None      # the generalized forces solved for, by free coordinate (fast solver)
    geometry: object | None = None           # fast_so.MuscleGeometry at the frames (fast solver)
    rigid_tendon_frames: np.ndarray | None = None  # (T,) bool: tendon compliance asked, equilibrium failed


_VIOLATION = re.compile(r"[Cc]onstraint violation\s*=\s*([0-9.eE+-]+|nan|inf)")


def run_static_optimization(model_path: str | os.PathLike, coordinates_path: str | os.PathLike,
                            external_loads_path: str | os.PathLike | None, output_path: str | os.PathLike,
                            time_range: tuple[float, float] | None = None, cutoff_hz: float = 6.0,
                            exponent: float = 2.0, reserves: ReserveSpec | None = None,
                            max_iterations: int = 100, convergence: float = 1e-4) -> StaticOptimizationResult:
    """Run OpenSim's StaticOptimization; write muscle activations (.sto, OpenSim header) atomically."""
    osim = opensim()
    reserves = reserves or ReserveSpec()
    model, model_path, coordinates_path, output_path, start, end = tool_inputs(
        model_path, coordinates_path, output_path, time_range)
    muscles = model.getMuscles()
    muscle_names = [muscles.get(i).getName() for i in range(muscles.getSize())]
    with tempfile.TemporaryDirectory(prefix=".so_", dir=output_path.parent) as work:
        work = Path(work)
        reserve_file = work / "reserves.xml"
        reserve_set = reserves.actuators(model)
        write_reserve_force_set(reserve_file, reserve_set)
        tool = osim.AnalyzeTool()
        tool.setName("so")
        tool.setModelFilename(str(model_path.resolve()))
        force_sets = osim.ArrayStr()
        force_sets.append(str(reserve_file))
        tool.setForceSetFiles(force_sets)
        tool.setReplaceForceSet(False)
        tool.setCoordinatesFileName(str(coordinates_path.resolve()))
        tool.setLowpassCutoffFrequency(cutoff_hz)
        if external_loads_path is not None:
            tool.setExternalLoadsFileName(str(Path(external_loads_path).resolve()))
        tool.setInitialTime(float(start))
        tool.setFinalTime(float(end))
        tool.setResultsDir(str(work))
        so = osim.StaticOptimization()
        so.setStartTime(float(start))
        so.setEndTime(float(end))
        so.setActivationExponent(float(exponent))
        so.setUseMusclePhysiology(True)
        so.setUseModelForceSet(True)
        so.setMaxIterations(int(max_iterations))
        so.setConvergenceCriterion(float(convergence))
        tool.getAnalysisSet().cloneAndAppend(so)
        setup = work / "so_setup.xml"
        tool.printToXML(str(setup))  # a tool configured in code does not load coordinates: reload it
        sink = osim.StringLogSink()  # SO reports each frame's constraint violation in its log only
        level = osim.Logger.getLevelString()
        started = time.perf_counter()
        with quiet_stdout():
            osim.Logger.setLevelString("info")
            osim.Logger.addSink(sink)
            try:
                ok = osim.AnalyzeTool(str(setup)).run()
            finally:
                osim.Logger.removeSink(sink)
                osim.Logger.setLevelString(level)
        seconds = time.perf_counter() - started
        produced = work / "so_StaticOptimization_activation.sto"
        if not ok or not produced.is_file():
            raise RuntimeError(f"StaticOptimization failed for {model_path} and {coordinates_path}")
        raw = read_storage(produced)
        violations = np.array([float(v) for v in _VIOLATION.findall(sink.getString())])
    if len(violations) != len(raw.time):
        violations = np.full(len(raw.time), np.nan)
    reserve_labels = [lab for lab in raw.labels if lab not in muscle_names]
    table = StorageTable(raw.time, muscle_names, raw.columns(muscle_names), name="static_optimization_activations",
                         header_lines=[f"activation_exponent={exponent}"])
    write_storage(output_path, table)
    controls = StorageTable(raw.time, reserve_labels, raw.columns(reserve_labels))
    return StaticOptimizationResult(table, controls, violations, seconds,
                                    reserve_torques=reserve_torques(controls, reserve_set))
