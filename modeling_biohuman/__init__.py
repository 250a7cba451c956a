"""BioHuman model: video -> SMPL motion and 112 muscle activations (transformers-style)."""
