#!/usr/bin/env python3
"""Evaluate models on a BioHuman10M split: ``biohuman evaluate`` as a script.

    python3 scripts/evaluate.py --dataset DATA --model RUN/model --model mean -o EVAL

See ``biohuman evaluate --help`` (builder/evaluation/command.py).
"""

import sys

from builder.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]], modules=("builder.evaluation.command",)))
