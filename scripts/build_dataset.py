#!/usr/bin/env python3
"""Build the BioHuman10M dataset: ``biohuman dataset`` as a script (without loading the other commands).

    python scripts/build_dataset.py pipeline --biosim-out runs/biosim         # embedded default motions, end to end
    python scripts/build_dataset.py pipeline MOTIONS... --biosim-out W -o D --push-to-hub user/name
    python scripts/build_dataset.py build runs/biosim [-o DIR] [--window 32] [--stride 32] [--frames crop]
    python scripts/build_dataset.py verify DIR
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.cli import main

if __name__ == "__main__":
    sys.exit(main(["dataset", *sys.argv[1:]], modules=("builder.dataset.command",)))
