#!/usr/bin/env bash
# One-time set-up of a fresh Debian machine for BioHuman: system libraries for CPU rendering
# and video, then CPU torch, then this project with every extra (simulation, training, dev).
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # EGL/OSMesa for pyrender on the CPU; ffmpeg for users' videos in other containers.
  apt-get install -y -qq --no-install-recommends \
    libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 libgl1 libglu1-mesa ffmpeg >/dev/null
fi

python3 -m pip install -q --upgrade pip
# CPU torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
python3 -m pip install -q "torch==2.13.0"
python3 -m pip install -q -e ".[all]"
