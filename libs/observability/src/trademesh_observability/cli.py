"""`python -m trademesh_observability generate|check`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trademesh_observability.generate import find_root, stale_files, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trademesh-observability", description=__doc__)
    parser.add_argument("command", choices=["generate", "check"])
    parser.add_argument("--root", type=Path, default=None, help="repository root")
    args = parser.parse_args(argv)
    root = find_root(args.root)
    if args.command == "generate":
        for path in write(root):
            print(f"wrote {path}")
        return 0
    stale = stale_files(root)
    for path in stale:
        print(f"out of date: {path}", file=sys.stderr)
    if stale:
        print("run: uv run --frozen python -m trademesh_observability generate", file=sys.stderr)
    return 1 if stale else 0
