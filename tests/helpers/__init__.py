"""Helpers the tests import as modules (``from helpers.sequences import make_sequence``).

``paths`` (project root, the ../shared reference data and the skip when it is absent),
``sequences`` (per-sequence BioSim output folders for the dataset tests), ``walk_trial`` (the
real Rajagopal walking trial for the dynamics tests), ``synthetic_motion`` (an SMPL walk),
``procedural_smpl`` (a SMPL-format model file), ``local_hub`` (a local server speaking the Hub API),
``failing_command`` (a CLI command raising an input error or a bug), ``short_clips`` (a few short embedded
clips as motion files, for whole builds).
"""
