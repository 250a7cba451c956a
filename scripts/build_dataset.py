#!/usr/bin/env python3
"""Build the BioHuman10M dataset folder from BioSim outputs: ``biohuman dataset build`` as a script.

    python scripts/build_dataset.py OUTPUTS_ROOT [--out DIR] [--window 32] [--stride 32] [--frames crop]
                                    [--shard-size 256MiB] [--push-to-hub user/name]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.dataset_command import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["build", *sys.argv[1:]]))
