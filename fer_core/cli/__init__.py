"""``python -m fer_core``: the command-line face of every feature, one module per part of the app.

Every user error (bad file, bad model, bad argument) prints one ``error: ...`` line to
stderr and exits with code 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fer_core.cli import data, evaluation, inference, nets, training
from fer_core.cli.common import OneLineErrors
from fer_core.errors import FerError


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(prog="python -m fer_core", description="FER Studio: facial expression recognition on FER2013.")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (data, training, evaluation, inference, nets):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "out", None) and args.command in ("train", "runs"):
        os.environ["FER_RUNS_DIR"] = str(Path(args.out).resolve())
    try:
        return args.handler(args)
    except (FerError, OSError) as exc:  # OSError: a full disk, a folder without write permission, the user's to fix
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
