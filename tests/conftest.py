"""Shared pytest fixtures (session-scoped where building them is costly)."""

import pytest


# --- body surface (builder.body): one Anny body and one procedural SMPL model per session ---
@pytest.fixture(scope="session")
def anny_body():
    """The Anny body (rig cmu_mb), built once per session (its rig is cached in ANNY_CACHE_DIR)."""
    from builder.body import AnnyBody

    return AnnyBody()


@pytest.fixture(scope="session")
def procedural_smpl_path(anny_body, tmp_path_factory):
    """A procedural SMPL-format model file (.pkl) that the real smplx code path loads."""
    from procedural_smpl import write_procedural_smpl

    return write_procedural_smpl(anny_body, tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.pkl")


# --- rendering (builder.render, builder.video): one posed walking body, rendered once ---
WALK_FPS = 30.0
WALK_FRAMES = 30


def smpl_walk(num_frames: int, fps: float):
    """A synthetic SMPL walk (MotionSequence): hips, knees and shoulders swing, 1.2 m/s along +Z."""
    import numpy as np

    from builder.sources.motion import MotionSequence

    time = np.arange(num_frames) / fps
    stride = 2 * np.pi * 0.9 * time
    poses = np.zeros((num_frames, 72))
    poses[:, 3 * 1] = -0.45 * np.sin(stride)                                # left hip flexion
    poses[:, 3 * 2] = 0.45 * np.sin(stride)                                 # right hip
    poses[:, 3 * 4] = 0.6 * np.clip(np.sin(stride + 1.2), 0, None)          # left knee
    poses[:, 3 * 5] = 0.6 * np.clip(np.sin(stride + 1.2 + np.pi), 0, None)  # right knee
    poses[:, 3 * 16 + 2], poses[:, 3 * 16] = -1.2, 0.4 * np.sin(stride)     # left arm down, swinging
    poses[:, 3 * 17 + 2], poses[:, 3 * 17] = 1.2, -0.4 * np.sin(stride)     # right arm
    trans = np.stack([np.zeros(num_frames), np.full(num_frames, 1.2), 1.2 * time], axis=1)
    return MotionSequence("synthetic_walk", "test", "s0", poses, trans, fps)


@pytest.fixture(scope="session")
def walking_body(anny_body):
    """The 1 s synthetic walk on the Anny body (builder.body): (vertices (T, V, 3), faces, fps)."""
    from builder.body import posed_vertices

    sequence = smpl_walk(WALK_FRAMES, WALK_FPS)
    vertices = posed_vertices(sequence, anny_body)
    vertices[..., 1] -= vertices[..., 1].min()  # feet on the ground, y = 0
    return vertices, anny_body.faces, WALK_FPS


@pytest.fixture(scope="session")
def rendered_walk(walking_body, tmp_path_factory):
    """``walking_body`` rendered by ``render_sequence`` into a sequence folder: (RenderResult, body)."""
    from builder.render import render_sequence

    vertices, faces, fps = walking_body
    result = render_sequence(vertices, faces, fps, tmp_path_factory.mktemp("render") / "walk",
                             sequence_id="walk", seed=7)
    return result, walking_body


# --- BioHuman model (modeling_biohuman): tiny configurations for fast model tests ---
TINY_BIOHUMAN = dict(
    image_size=(32, 24), patch_size=8, encoder_hidden_size=32, encoder_num_layers=1, encoder_num_heads=2,
    decoder_hidden_size=32, decoder_num_layers=1, decoder_num_heads=2, num_fourier_features=8,
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, dropout=0.0,
    window_length=8,
)


@pytest.fixture
def tiny_biohuman_config():
    """Factory of tiny BioHumanConfig / BioHumanTwoStageConfig objects (keyword overrides allowed)."""
    import torch

    import modeling_biohuman as mb

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls: extra threads only contend with the other CI processes

    def make(two_stage: bool = False, **overrides):
        kwargs = {**TINY_BIOHUMAN, **overrides}
        if two_stage:
            return mb.BioHumanTwoStageConfig(**{"motion_hidden_size": 32, "motion_num_layers": 2, "motion_num_heads": 2, **kwargs})
        return mb.BioHumanConfig(**kwargs)

    yield make
    torch.set_num_threads(threads)


# --- training / evaluation / prediction (modeling_biohuman.training, .evaluation, .video_prediction) ---
TINY_TRAIN_CONFIG = "scripts/configs/tiny.yaml"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A built BioHuman10M folder (8-frame windows) from a few synthetic per-sequence folders."""
    from pathlib import Path

    from dataset_sequences import make_corpus

    from builder.build_dataset import BuildConfig, build_dataset
    from builder.windows import WindowConfig

    root = tmp_path_factory.mktemp("tiny_corpus")
    make_corpus(root, frames=40)
    out = Path(root) / "dataset"
    build_dataset(root, out, BuildConfig(window=WindowConfig(size=8, stride=8)))
    return out


@pytest.fixture(scope="session")
def tiny_trained_run(tiny_dataset, tmp_path_factory):
    """A tiny BioHuman trained in-process for a few steps: (run folder, final metrics)."""
    from pathlib import Path

    from modeling_biohuman.training import TrainConfig, train

    config = TrainConfig.from_yaml(Path(__file__).resolve().parents[1] / TINY_TRAIN_CONFIG)
    run = tmp_path_factory.mktemp("tiny_run")
    metrics = train(config, tiny_dataset, run)
    return run, metrics


# --- dynamics (builder.biosim): the real Rajagopal walking trial, prepared once per session ---
@pytest.fixture(scope="session")
def walk(tmp_path_factory):
    """The Rajagopal2016 walking trial scaled and through IK (tests/dynamics_fixtures.py); modules
    that need another walk define their own ``walk`` fixture."""
    from dynamics_fixtures import prepare_walk

    return prepare_walk(tmp_path_factory.getbasetemp() / "rajagopal_walk")


@pytest.fixture(scope="session")
def dyn(walk):
    """GRF, inverse dynamics and static optimization of that trial (estimated and measured GRF)."""
    from dynamics_fixtures import walk_dynamics

    return walk_dynamics(walk)


@pytest.fixture(scope="session")
def embedded_walk(anny_body, tmp_path_factory):
    """The embedded walk (four strides of the DeepMimic clip, 30 fps) on the Anny body through BioSim
    kinematics and dynamics with the default settings: its sequence folder (``builder.layout`` files)."""
    from builder import layout
    from builder.biosim.dynamics import process_sequence
    from builder.biosim.kinematics import KinematicsSettings, run_kinematics
    from builder.sources.deepmimic import embedded_motion, read_deepmimic
    from builder.sources.timing import resample

    (walk,) = read_deepmimic(embedded_motion("walk"), cycles=4)
    walk = resample(walk, 30.0)
    out = tmp_path_factory.mktemp("embedded_walk")
    run_kinematics(walk, out, KinematicsSettings(), body=anny_body)
    folder = layout.sequence_dir(out, walk.sequence_id)
    record = process_sequence(folder)
    assert record.status == "kept", record.reasons
    return folder


# --- Hub round trips (builder.hub, modeling_biohuman): a local server speaking the Hub endpoints ---
@pytest.fixture
def local_hub(tmp_path):
    """A ``local_hub.LocalHub`` serving from ``tmp_path / "hub"`` on a free port, in a thread."""
    import threading

    from local_hub import LocalHub

    hub = LocalHub(tmp_path / "hub")
    thread = threading.Thread(target=hub.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield hub
    hub.shutdown()
    hub.server_close()
