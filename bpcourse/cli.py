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


def _export_student(args) -> int:
    from .instructor import ExportError, export_student

    try:
        written = export_student(Path(args.root), Path(args.dest), overwrite=args.overwrite, repo=args.repo,
                                 names=args.assignment)
    except ExportError as exc:
        print(f"bpcourse export-student: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files to {Path(args.dest).resolve()} (no solutions, no hidden tests)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bpcourse", description=__doc__)
    parser.add_argument("--root", default=".", help="the course repository (default: the current folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="regenerate course/ from solutions/ with nbgrader")
    rel.add_argument("assignment", nargs="*", help="assignment names (default: all)")
    rel.set_defaults(run=_release)
    exp = sub.add_parser("export-student", help="write the student-facing tree (no answers) to DEST")
    exp.add_argument("dest", metavar="DEST", help="an empty folder, or a clone of the public student repository")
    exp.add_argument("--overwrite", action="store_true", help="replace what DEST holds (its .git is kept)")
    exp.add_argument("--repo", default="OWNER/REPO", help="GitHub owner/name of the public repository, for the "
                     "Binder badge (default: a placeholder)")
    exp.add_argument("--assignment", action="append", metavar="NAME",
                     help="export only these released assignments (repeat; default: all)")
    exp.set_defaults(run=_export_student)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
