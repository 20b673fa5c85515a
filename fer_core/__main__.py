"""Entry point for ``python -m fer_core``."""

import os
import sys

# TensorFlow's C++ start-up chatter (absl INFO lines about oneDNN and CPU features) goes
# straight to file descriptor 2 and ignores TF_CPP_MIN_LOG_LEVEL in TF 2.21, burying the
# CLI's own one-line errors. Point fd 2 at /dev/null and keep Python's sys.stderr on the
# real stream. FER_TF_LOGS=1 keeps the native logs (for debugging TensorFlow itself).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("FER_TF_LOGS") != "1":
    real_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(real_stderr, "w", buffering=1)

from fer_core.cli import main

raise SystemExit(main())
