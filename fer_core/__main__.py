"""Entry point for ``python -m fer_core``."""

import os

# TensorFlow's C++ start-up chatter buries the CLI's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fer_core.cli import main

raise SystemExit(main())
