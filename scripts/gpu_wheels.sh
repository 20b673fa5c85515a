#!/usr/bin/env bash
# Fetch, on this machine, the wheels the GPU machine lacks for `fer_core train` on JAX: its image
# has JAX, PyTorch, numpy, h5py, ml-dtypes, rich, absl, OpenCV, pandas and Pillow but no Keras,
# and Keras needs namex and optree beside those. Into .whl/ (gitignored), which the device call
# carries; scripts/gpu_sitting.py unpacks them there. The image's Python is 3.12 on x86-64.
set -euo pipefail
cd "$(dirname "$0")/.."
keras_version=$(.venv/bin/python -c 'from importlib.metadata import version; print(version("keras"))')
rm -rf .whl && mkdir -p .whl
.venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: --dest .whl \
    --python-version 3.12 --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    "keras==${keras_version}" namex optree
ls -l .whl
