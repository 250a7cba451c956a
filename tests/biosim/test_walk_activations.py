"""BioSim end to end on two walks: muscle timing over the gait cycle, as a biomechanist checks it, and
whether the muscles (not the reserves) carry the joint moments.

The walks (four strides of the embedded DeepMimic clip, and the real healthy walk of the gaitkit
wheel, Fukuchi et al. 2018) run on the Anny body through kinematics and dynamics; gait cycles
are cut at right heel strikes of the estimated vertical GRF, and each
muscle's mean activation is compared between Perry's gait phases (loading response 0-10 %,
mid-stance 10-30 %, terminal stance 30-50 %, pre-swing 50-60 %, swing 60-100 %; the clip's
toe-off falls at ~53 % of the cycle).
"""

import numpy as np
import pytest
from helpers.biosim_run import simulate_kept

from builder import layout
from builder.biosim.record import read_record
from builder.biosim.storage import read_storage
from builder.sources.gaitkit import gaitkit_example, read_gaitkit

CONTACT_N = 20.0


@pytest.fixture(scope="module", params=["deepmimic", "gaitkit"])
def walk_folder(request, anny_body, tmp_path_factory):
    """The walk's sequence folder after kinematics and dynamics, and its record."""
    if request.param == "deepmimic":   # shared with the GRF tests
        folder = request.getfixturevalue("embedded_walk")
        return folder, read_record(folder / layout.RECORD)
    (walk,) = read_gaitkit(gaitkit_example())
    return simulate_kept(walk, tmp_path_factory.mktemp("walk"), anny_body)


@pytest.fixture(scope="module")
def walk_cycles(walk_folder):
    """Activations (cycles, 100 phase samples) per muscle over the inner right-leg gait cycles."""
    folder, _ = walk_folder

    grf = read_storage(folder / layout.GRF_MOT)
    contact = grf.column("ground_force_r_vy") > CONTACT_N
    strikes = grf.time[np.flatnonzero(contact[1:] & ~contact[:-1]) + 1]
    activations = read_storage(folder / layout.ACTIVATIONS)
    cycles = {}
    phase = np.linspace(0, 1, 100, endpoint=False)
    assert len(strikes) >= 2, f"expected a complete right gait cycle, got heel strikes at {strikes}"
    inner = strikes[1:-1] if len(strikes) >= 4 else strikes   # inner cycles where there are: no filter edge effects
    for start, stop in zip(inner[:-1], inner[1:]):
        times = start + phase * (stop - start)
        for name in activations.labels:
            cycles.setdefault(name, []).append(np.interp(times, activations.time, activations.column(name)))
    return {name: np.array(curves) for name, curves in cycles.items()}


def phase_mean(cycles, muscles, start, stop):
    """Mean activation of ``muscles`` between ``start`` and ``stop`` percent of the gait cycle."""
    return float(np.mean([cycles[m][:, start:stop].mean() for m in muscles]))


@pytest.mark.slow
def test_plantarflexors_fire_in_late_stance(walk_cycles):
    triceps_surae = ("soleus_r", "gasmed_r", "gaslat_r")
    late_stance = phase_mean(walk_cycles, triceps_surae, 30, 55)
    swing = phase_mean(walk_cycles, triceps_surae, 60, 100)
    # levels: ~0.14 on the clip, 0.2 on the gaitkit walk, once fibres work in their force-length range (the
    # earlier floor of 0.15 was set on misscaled, weaker muscles); the timing is the 3x ratio
    assert late_stance > 0.1 and late_stance > 3 * swing


@pytest.mark.slow
def test_tibialis_anterior_fires_in_swing_and_around_heel_strike(walk_cycles):
    swing = phase_mean(walk_cycles, ("tibant_r",), 60, 100)
    around_strike = walk_cycles["tibant_r"][:, list(range(95, 100)) + list(range(0, 10))].mean()
    mid_stance = phase_mean(walk_cycles, ("tibant_r",), 10, 30)
    print(f"tibialis anterior: swing {swing:.3f}, around heel strike {around_strike:.3f}, mid-stance {mid_stance:.3f}")
    # level: 0.13-0.14 on both walks since SO gives tendons their compliance (0.17 on the gaitkit walk with rigid
    # ones: the long tendon lets the fibre work nearer its optimal length, 8 % more force per activation at the
    # median frame); the timing is the 1.5x ratios (swing 1.9x and 4.4x mid-stance on the clip and gaitkit walks;
    # the clip's was 1.38x with rigid tendons, peroneus longus and tibialis anterior co-contracting in mid-stance)
    assert swing > 0.1 and swing > 1.5 * mid_stance
    assert around_strike > 1.5 * mid_stance


@pytest.mark.slow
def test_vastii_fire_in_early_stance(walk_cycles):
    vastii = ("vaslat_r", "vasmed_r", "vasint_r")
    early_stance, swing = phase_mean(walk_cycles, vastii, 0, 40), phase_mean(walk_cycles, vastii, 60, 95)
    # the clip's stance knee extension moment is small (~20 N m): with muscles in their operating range
    # the vastii carry it at ~0.03-0.05 (0.05 was set when misscaled fibres forced higher activations)
    assert early_stance > 0.025 and early_stance > 2 * swing


@pytest.mark.slow
def test_gluteus_medius_fires_in_single_support(walk_cycles):
    gluteus_medius = ("glmed1_r", "glmed2_r", "glmed3_r")
    single_support = phase_mean(walk_cycles, gluteus_medius, 12, 50)
    swing = phase_mean(walk_cycles, gluteus_medius, 60, 100)
    assert single_support > 0.2 and single_support > 1.3 * swing   # ~0.25 on the clip (0.3 on misscaled muscles)


@pytest.mark.slow
def test_smoothing_removes_frame_to_frame_roughness(walk_folder, request):
    """The published activations are at least a quarter smoother than raw SO (roughness of the record)."""
    if request.node.callspec.params.get("walk_folder") == "gaitkit":
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "gaitkit walk with the contact GRF: raw SO is smoother than with the physics GRF, so the 40 ms "
            "smoothing removes less: published/raw roughness 0.291/0.354 = 0.82 (0.319/0.393 = 0.81 with rigid "
            "tendons, 0.326/0.429 = 0.76 before the foot took its heel-toe axis, 0.332/0.404 = 0.82 with the "
            "physics GRF)")))
    _, record = walk_folder
    roughness = record.validity["roughness"]
    assert roughness["published"] < 0.75 * roughness["raw"]


def median_capacity(model_path, coordinates_path, step: int = 3) -> float:
    """Median over muscles and every ``step``-th IK frame of OpenSim's active-fibre-force capacity
    ``calcInextensibleTendonActiveFiberForce(s, 1) / max_isometric_force`` (IK poses and speeds)."""
    from builder.biosim.fast_so import coordinate_states
    from builder.biosim.opensim_model import opensim

    osim = opensim()
    model = osim.Model(str(model_path))
    state = model.initSystem()
    times = read_storage(coordinates_path).time[::step]
    pose = coordinate_states(model, coordinates_path, 6.0, times).poser(model, state)
    muscles = model.getMuscles()
    values = []
    for i in range(len(times)):
        pose(i)
        model.assemble(state)
        model.realizeVelocity(state)
        values += [muscle.calcInextensibleTendonActiveFiberForce(state, 1.0) / muscle.getMaxIsometricForce()
                   for muscle in (muscles.get(k) for k in range(muscles.getSize()))]
    return float(np.median(values))


@pytest.mark.slow
def test_walk_muscles_carry_the_joint_moments(walk_folder):
    """The scaled muscles work where the generic ones do, and the issue's bounds hold on every frame, not only
    on those the audit keeps: reserves under 5 % of the RMS joint moment (raw SO's moment error is what the
    reserves carry), under 1 % saturated activations, and the published (smoothed) activations within 15 % of
    the ID moments. Measured: DeepMimic walk .013 / 0.19 % / .013, gaitkit walk .0003 / 0.08 % / .0004. Before a
    double support cut by the motion's first frame took the lever rule, the DeepMimic walk's first three frames
    made it .101 / 0.51 % (this test then fails)."""
    from builder.musculoskeletal import default_model_path

    folder, record = walk_folder
    scaled = median_capacity(folder / layout.SCALED_MODEL, folder / layout.IK_MOT)
    generic = median_capacity(default_model_path(), folder / layout.IK_MOT)
    print(f"median active-force capacity at the IK poses: scaled {scaled:.3f}, generic {generic:.3f}")
    assert scaled >= 0.85 and scaled >= generic - 0.05
    validity = record.validity
    print("validity:", {k: validity[k] for k in ("valid_fraction", "reserve_share_valid_frames", "moment_error",
                                                 "saturated_fraction", "roughness")})
    assert validity["valid_fraction"] > 0.95
    assert validity["reserve_share_valid_frames"]["leg_lumbar"] < 0.05
    assert validity["moment_error"]["raw"] < 0.05 and validity["saturated_fraction"]["raw"] < 0.01
    assert validity["moment_error"]["published"] < 0.15
    valid = read_storage(folder / layout.VALIDITY).column("valid")
    assert len(valid) == len(read_storage(folder / layout.ACTIVATIONS).time)


LEG_COORDINATES = ("hip_flexion_r", "hip_adduction_r", "ankle_angle_r", "hip_flexion_l", "hip_adduction_l",
                   "ankle_angle_l")
"""Leg coordinates without couplers: their ID moments read straight from ``id.sto``."""


def equilibrium_moment_errors(folder, activation_files: tuple[str, ...], step: int = 3) -> list[float]:
    """For each activation file, the RMS error of the muscles' moments against the ID moments over
    ``LEG_COORDINATES`` and every ``step``-th valid frame, relative to the RMS ID moment, computed with OpenSim's
    own muscle model: each muscle at its activation, fibres and compliant tendons in ``equilibrateMuscles`` at the
    IK pose and speeds, ``getActiveFiberForceAlongTendon`` times ``computeMomentArm`` (not our solver's force
    matrix) for the muscles whose path crosses the coordinate's joint (OpenSim's moment-arm solver returns NaN
    for the biceps long head on leg coordinates at some arm poses)."""
    from builder.biosim.fast_so import compliant_model, coordinate_states
    from builder.biosim.static_optimization import muscle_crossed_coordinates

    model, state = compliant_model(folder / layout.SCALED_MODEL)
    muscles = [model.getMuscles().get(k) for k in range(model.getMuscles().getSize())]
    crossed = muscle_crossed_coordinates(model)
    crossing = [[m for m in muscles if c in crossed[m.getName()]] for c in LEG_COORDINATES]
    tables = [read_storage(folder / name) for name in activation_files]
    frames = np.flatnonzero(read_storage(folder / layout.VALIDITY).column("valid") > 0.5)[::step]
    times = tables[0].time[frames]
    pose = coordinate_states(model, layout.dynamics_coordinates(folder), 6.0, times).poser(model, state)
    inverse_dynamics = read_storage(folder / layout.ID_STO)
    target = np.stack([np.interp(times, inverse_dynamics.time, inverse_dynamics.column(f"{c}_moment"))
                       for c in LEG_COORDINATES], axis=1)
    coordinates = model.getCoordinateSet()
    errors = []
    for activations in tables:
        columns = [activations.labels.index(muscle.getName()) for muscle in muscles]
        produced = np.zeros_like(target)
        for i, frame in enumerate(frames):
            pose(i)
            for muscle, column in zip(muscles, columns):
                muscle.setActivation(state, float(max(activations.data[frame, column], 1e-3)))
            model.equilibrateMuscles(state)
            model.realizeDynamics(state)
            for j, (name, crossers) in enumerate(zip(LEG_COORDINATES, crossing)):
                produced[i, j] = sum(muscle.getActiveFiberForceAlongTendon(state)
                                     * muscle.computeMomentArm(state, coordinates.get(name)) for muscle in crossers)
        assert np.isfinite(produced).all(), f"{folder}: non-finite muscle moments"
        errors.append(float(np.sqrt(np.mean((produced - target) ** 2)) / np.sqrt(np.mean(target ** 2))))
    return errors


@pytest.mark.slow
def test_activations_reproduce_the_moments_in_opensims_muscle_equilibrium(walk_folder):
    """SO with compliant tendons: OpenSim's own equilibrium muscle model, driven by the raw SO activations,
    produces the hip and ankle ID moments to < 5 % (1.4 % on the clip; with rigid tendons 3.1 % there and 15 %
    on the clip's run, 4.9 % with compliant ones), and by the published ones to < 15 %."""
    folder, _ = walk_folder
    raw, published = equilibrium_moment_errors(folder, (layout.SO_ACTIVATIONS, layout.ACTIVATIONS))
    print(f"moment error in OpenSim's muscle equilibrium: raw {raw:.3f}, published {published:.3f}")
    assert raw < 0.05 and published < 0.15
