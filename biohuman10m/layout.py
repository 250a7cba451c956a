"""File and folder names of a built BioHuman10M folder (written by ``builder.dataset``)::

    <dataset>/
      README.md            dataset card; YAML configs serve the Parquet files (load_dataset(<dataset>))
      data/<split>-NNNNN.parquet      labels + metadata, one row per window
      webdataset/README.md card of the WebDataset copy (load_dataset(<dataset>/webdataset))
      webdataset/<split>-NNNNN.tar    one sample per window: frames, .npy arrays, .json
      splits.json          the sequence -> split assignment
      manifest.json        every data file with bytes and sha256, counts per split and source
      figures/*.png        example window and statistics, shown in the card
      .build/              resumable per-sequence window cache (not uploaded)
      .cache/              huggingface_hub's local bookkeeping of an upload or download (not uploaded)

The default folder is ``./biohuman10m``: built from the project root it is this package's folder, so
``load_dataset("biohuman10m")`` works there; none of these files is package data.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_DATASET_DIR = Path("biohuman10m")
"""Where a build goes by default: ``./biohuman10m``, relative to the current folder."""
CARD = "README.md"
PARQUET_DIR = "data"
WEBDATASET_DIR = "webdataset"
SPLITS_FILE = "splits.json"
MANIFEST = "manifest.json"
FIGURES_DIR = "figures"
CACHE_DIR = ".build"
HUB_CACHE_DIR = ".cache"

BUILD_OUTPUTS: tuple[str, ...] = (CARD, PARQUET_DIR, WEBDATASET_DIR, SPLITS_FILE, MANIFEST, FIGURES_DIR, CACHE_DIR,
                                  HUB_CACHE_DIR)
"""Every top-level name a build (or an upload) writes into a dataset folder."""
