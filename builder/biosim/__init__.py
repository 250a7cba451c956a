"""BioSim: OpenSim stages from markers to muscle activations (scale, IK, GRF, ID, SO)."""
