"""A trained model on a user's video (``biohuman predict``).

``checkpoint_loading`` (a saved model folder, refused with the reason when it does not fit),
``video_prediction`` (frames + person boxes -> per-frame pose and activations, streamed in windows),
``exports`` (OpenSim .sto/.mot, CSV, group plot, overlay video), ``command`` (the CLI).
"""
