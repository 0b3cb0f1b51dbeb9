"""The ``bpcourse`` command: course maintenance for instructors (run from the repository root)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _release(args) -> int:
    from .instructor import assignments, release

    root = Path(args.root)
    if not (root / "solutions").is_dir():
        print(f"bpcourse release: no solutions/ folder in {root.resolve()}; run it from the course repository",
              file=sys.stderr)
        return 2
    names = args.assignment or assignments(root)
    for name in names:
        print(f"releasing {name} -> course/{name}/")
        release(root, [name])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bpcourse", description=__doc__)
    parser.add_argument("--root", default=".", help="the course repository (default: the current folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="regenerate course/ from solutions/ with nbgrader")
    rel.add_argument("assignment", nargs="*", help="assignment names (default: all)")
    rel.set_defaults(run=_release)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
