"""BioHuman10M build: BioSim's per-sequence outputs -> windows -> shards + card (the last builder stage).

``sequence_files`` reads one sequence folder's labels and video; ``windows`` cuts them into
windows; ``splits`` assigns sequences to train/test; ``shards`` writes WebDataset tars and Parquet;
``manifest`` checksums every file; ``figures`` draws the card's images; ``build`` runs all of it
resumably; ``pipeline`` chains the BioSim commands in front; ``hub`` uploads; ``command`` is
``biohuman dataset``.
"""
