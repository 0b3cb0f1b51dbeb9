"""The ``bpcourse`` command: course maintenance for instructors (run from the repository root)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path


def _release(args) -> int:
    from .course import assignments, release
    from .editions import expand

    root = Path(args.root)
    if not (root / "solutions").is_dir():
        print(f"bpcourse release: no solutions/ folder in {root.resolve()}; run it from the course repository",
              file=sys.stderr)
        return 2
    unknown = sorted(set(args.assignment) - set(assignments(root)))
    if unknown:
        print(f"bpcourse release: no assignment {', '.join(unknown)} in solutions/", file=sys.stderr)
        return 2
    names = expand(args.assignment, assignments(root), args.edition)
    for name in names:
        print(f"releasing {name} -> course/{name}/")
        release(root, [name], config=args.config)
    return 0


def _export_student(args) -> int:
    from .export import ExportError, export_student

    print("releasing solutions/ afresh with nbgrader to export it (course/ must equal that release) ...", flush=True)
    try:
        written = export_student(Path(args.root), Path(args.dest), overwrite=args.overwrite, repo=args.repo,
                                 names=args.assignment, branch=args.branch, edition=args.edition)
    except ExportError as exc:
        print(f"bpcourse export-student: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files to {Path(args.dest).resolve()}: a fresh release of solutions/, checked line "
          "by line (no solution or hidden-test line, no outputs)")
    return 0


EDITIONS = ("en", "ko", "both")
WORKERS = min(2 * (os.cpu_count() or 1) + 1, 17)  # as grading.WORKERS, without importing nbgrader here


def _grade(args) -> int:
    from .grading import Unreadable, grade, summary

    root = Path(args.root)
    if not (root / "nbgrader_config.py").is_file():
        print(f"bpcourse grade: no nbgrader_config.py in {root.resolve()}; run it from the course repository",
              file=sys.stderr)
        return 2
    from .course import assignments
    from .editions import expand

    # An assignment named either way stands for both editions: a class can mix them (each student's hand-in is
    # graded in the edition they worked in). The other edition joins only if someone handed it in.
    available = assignments(root) if (root / "solutions").is_dir() else []
    handed_in = {p.name for p in (root / "submitted").glob("*/*") if p.is_dir()}
    names = [n for n in expand(args.assignment, available, args.edition or "both")
             if args.edition or n in args.assignment or n in handed_in]
    names = list(dict.fromkeys([*names, *(a for a in args.assignment if a not in available)]))
    try:
        outcomes = grade(root, names, args.student, workers=args.workers, timeout=args.timeout,
                         notebook_timeout=args.notebook_timeout,
                         memory_cap=int(args.memory_gb * 1024 ** 3) if args.memory_gb > 0 else 0,
                         confine=not args.no_confine, fork=not args.exec_kernels, cluster=args.cluster,
                         config=args.config)
    except Unreadable as exc:
        print(f"bpcourse grade: {exc}", file=sys.stderr)
        return 2
    if not outcomes:
        names = " or ".join(args.assignment)
        print(f"bpcourse grade: nobody handed in {names} (expected submitted/<student>/<assignment>/"
              "<assignment>.ipynb)", file=sys.stderr)
        return 1
    print(summary(outcomes))
    return 1 if any(o.problem for o in outcomes) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bpcourse", description=__doc__)
    parser.add_argument("--root", default=".", help="the course repository (default: the current folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release", help="regenerate course/ from solutions/ with nbgrader")
    rel.add_argument("assignment", nargs="*", help="assignment names (default: all)")
    rel.add_argument("--edition", choices=EDITIONS, default="both", help="release the English edition, the Korean "
                     "one (NAME_ko) or both (default) of each assignment named")
    rel.set_defaults(run=_release)
    exp = sub.add_parser("export-student", help="write the student-facing tree (no answers) to DEST")
    exp.add_argument("dest", metavar="DEST", help="an empty folder, or a clone of the public student repository")
    exp.add_argument("--overwrite", action="store_true", help="replace what DEST holds (its .git is kept)")
    exp.add_argument("--repo", default="OWNER/REPO", help="GitHub owner/name of the public repository, for the "
                     "Binder badge, the Colab links and the notebooks' Colab set-up cell (default: a placeholder)")
    exp.add_argument("--branch", default="main", help="the branch of that repository the Colab links open "
                     "(default: main)")
    exp.add_argument("--assignment", action="append", metavar="NAME",
                     help="export only these released assignments (repeat; default: all)")
    exp.add_argument("--edition", choices=EDITIONS, default="both", help="the students get the English notebooks, "
                     "the Korean ones or both (default), with a README in each edition's language")
    exp.set_defaults(run=_export_student)
    grd = sub.add_parser("grade", help="autograde assignments with nbgrader, robust to broken submissions")
    grd.add_argument("assignment", metavar="ASSIGNMENT", nargs="+",
                     help="one or more assignments (several share the workers)")
    grd.add_argument("--student", action="append", metavar="ID",
                     help="grade only this student (repeat; default: everyone in submitted/)")
    grd.add_argument("--workers", type=int, default=WORKERS,
                     help=f"submissions graded at once (default: twice the cores and one more, here {WORKERS})")
    grd.add_argument("--timeout", type=int, default=None, help="seconds a cell may run before it is stopped "
                     "and scores 0 (default: nbgrader's Execute.timeout if configured, else 30)")
    grd.add_argument("--notebook-timeout", type=int, default=120, help="seconds a whole notebook may take, "
                     "kernel restarts and replays included; cells still to run then score 0 (default: 120)")
    grd.add_argument("--memory-gb", type=float, default=2.0, help="address-space cap of each grading kernel "
                     "in GB; 0 for none (default: 2)")
    grd.add_argument("--no-confine", action="store_true", help="don't confine the grading kernels' view of the "
                     "disk with Landlock (only for systems where confinement fails; grade in a container then)")
    grd.add_argument("--cluster", metavar="ADDRESS", help="run the notebooks on the workers of this Dask "
                     "scheduler (e.g. tcp://127.0.0.1:8786); this process still writes the gradebook")
    grd.add_argument("--exec-kernels", action="store_true", help="start every kernel as a new Python (slower) "
                     "instead of forking it from a warm, never-used parent")
    grd.add_argument("--edition", choices=EDITIONS, help="grade only this edition's hand-ins (default: an assignment "
                     "named either way is graded in every edition someone handed in, in one run)")
    grd.set_defaults(run=_grade)
    for command in (rel, grd):
        command.epilog = ("Any --Section.name=value option is nbgrader configuration, applied on top of the "
                          "nbgrader_config.py files nbgrader itself reads (e.g. --CourseDirectory.db_url=...).")
    args, extra = parser.parse_known_args(argv)
    bad = [a for a in extra if not _CONFIG_OPTION.fullmatch(a)]
    if bad or (extra and args.command not in ("release", "grade")):
        parser.error(f"unrecognized arguments: {' '.join(bad or extra)}")
    args.config = extra
    return args.run(args)


# nbgrader configuration on the command line, as nbgrader's own commands take it.
_CONFIG_OPTION = re.compile(r"--[A-Za-z_]\w*(\.[A-Za-z_]\w*)+=.*")


if __name__ == "__main__":
    sys.exit(main())
