"""Anatomical read-outs of an OpenSim model: moment arms and path lengths over coordinate ranges."""

from __future__ import annotations

import numpy as np

KEY_MOMENT_ARMS: dict[str, tuple[str, ...]] = {
    "ankle_angle_r": ("soleus_r", "gasmed_r", "tibant_r", "perlong_r"),
    "knee_angle_r": ("vaslat_r", "vasmed_r", "recfem_r", "bflh_r", "semiten_r"),
    "hip_flexion_r": ("glmax2_r", "iliacus_r", "psoas_r", "recfem_r", "addlong_r"),
    "lumbar_extension": ("ercspn_r", "rectabd_r", "extobl_r", "intobl_r"),
    "arm_add_r": ("deltmid_r", "deltant_r", "pecmaj_r", "latdors_r"),
    "elbow_flex_r": ("biclong_r", "brachialis_r", "brachiorad_r", "trilong_r", "trilat_r"),
}
"""Coordinate -> muscles whose moment arms the model report plots."""


def set_default_pose(model, state) -> None:
    """Every coordinate at its default value."""
    for coordinate in model.getCoordinateSet():
        coordinate.setValue(state, coordinate.getDefaultValue(), False)


def coordinate_grid(model, coordinate: str, num: int = 25) -> np.ndarray:
    """``num`` values spanning the coordinate's range."""
    c = model.getCoordinateSet().get(coordinate)
    return np.linspace(c.getRangeMin(), c.getRangeMax(), num)


def moment_arms(model, state, muscles: tuple[str, ...], coordinate: str, values: np.ndarray) -> np.ndarray:
    """Moment arms (m, (len(values), len(muscles))) about ``coordinate``, other coordinates at default.

    OpenSim's sign convention: positive when the muscle drives the coordinate positive.
    """
    set_default_pose(model, state)
    coord = model.getCoordinateSet().get(coordinate)
    out = np.empty((len(values), len(muscles)))
    for i, value in enumerate(values):
        coord.setValue(state, float(value), False)
        model.realizePosition(state)
        for j, name in enumerate(muscles):
            out[i, j] = model.getMuscles().get(name).computeMomentArm(state, coord)
    set_default_pose(model, state)
    return out


def path_lengths(model, state, coordinate: str, values: np.ndarray) -> np.ndarray:
    """Every muscle's path length (m, (len(values), n_muscles)) as ``coordinate`` sweeps ``values``."""
    set_default_pose(model, state)
    coord = model.getCoordinateSet().get(coordinate)
    muscles = model.getMuscles()
    out = np.empty((len(values), muscles.getSize()))
    for i, value in enumerate(values):
        coord.setValue(state, float(value), False)
        model.realizePosition(state)
        for j in range(muscles.getSize()):
            out[i, j] = muscles.get(j).getLength(state)
    set_default_pose(model, state)
    return out
