#!/usr/bin/env python3
"""Train BioHuman (or a baseline): ``biohuman train`` as a script, for ``accelerate launch``.

    accelerate launch scripts/train.py --config tiny --dataset DATA -o RUN    # several processes
    python3 scripts/train.py --config biohuman_cpu --dataset DATA -o RUN      # one process

See ``biohuman train --help`` (builder/training/command.py).
"""

import sys

from builder.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]], modules=("builder.training.command",)))
