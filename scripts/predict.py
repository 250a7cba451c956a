#!/usr/bin/env python3
"""Predict SMPL pose and 112 muscle activations for a video: ``biohuman predict`` as a script.

    python3 scripts/predict.py VIDEO --model RUN/model --boxes boxes.csv [-o OUT]
"""

import sys

from builder.cli import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]], modules=("builder.prediction.command",)))
