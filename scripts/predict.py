#!/usr/bin/env python3
"""Predict SMPL pose and 112 muscle activations for a video (same as `biohuman predict`).

    python3 scripts/predict.py VIDEO --model RUN/model --boxes boxes.csv [--output-dir OUT]
"""

import sys

from builder.cli import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
