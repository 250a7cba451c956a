"""BioSim and the BioHuman10M build: motion sources, body surface, OpenSim, video, shards."""
