"""Time `bpcourse grade` against stock `nbgrader autograde` on a scratch class, and compare their scores.

Every student hands in every notebook: two in three the solutions (as a student would type them), the third the
untouched release, so both full marks and zeros are compared. Both commands grade the same files in two copies
of the class, each with its own gradebook; the script prints both wall times, the ratio, and whether every
cell got the same score.

Usage: python benchmarks/grading_speed.py [--students 50] [--workers 2] [--assignment NAME ...] [--keep]
       [--only-ours]
Notebook 07 trains on MNIST: set BPCOURSE_DATA_DIR (or have the network), or leave it out with --assignment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bpcourse_instructor.course import assignments, release


def solved(name: str) -> nbformat.NotebookNode:
    """The released notebook with every solution cell filled in from solutions/, markers dropped."""
    nb = nbformat.read(REPO / "course" / name / f"{name}.ipynb", as_version=4)
    answers = {c.metadata.nbgrader["grade_id"]: c.source
               for c in nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "\n".join(line for line in answers[gid].splitlines()
                                    if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    return nb


def make_class(root: Path, names: list[str], students: int) -> None:
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions", root / "solutions")
    shutil.copytree(REPO / "course", root / "course")
    release(root, names)  # fills the class's own gradebook.db
    for name in names:
        right = solved(name)
        blank = nbformat.read(REPO / "course" / name / f"{name}.ipynb", as_version=4)
        for i in range(students):
            path = root / "submitted" / f"student{i:03d}" / name / f"{name}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(blank if i % 3 == 2 else right, path)


def timed(root: Path, commands: list[list[str]]) -> float:
    env = dict(os.environ)
    start = time.perf_counter()
    for cmd in commands:
        result = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def scores(root: Path) -> dict:
    from nbgrader.api import Gradebook
    out = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for a in gb.assignments:
            for sub in a.submissions:
                for nb in sub.notebooks:
                    for g in nb.grades:
                        if g.max_score:
                            out[(a.name, sub.student.id, g.name)] = g.score
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--workers", type=int, default=min((os.cpu_count() or 1) + 1, 9))
    parser.add_argument("--assignment", action="append", help="only these assignments (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch classes and print where")
    parser.add_argument("--only-ours", action="store_true", help="time bpcourse grade alone (for tuning)")
    args = parser.parse_args()
    names = args.assignment or assignments(REPO)
    # nbgrader's gradebook runs `alembic` from PATH: make it the one installed beside this Python.
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

    scratch = Path(tempfile.mkdtemp(prefix="grading-speed-"))
    try:
        stock, ours = scratch / "stock", scratch / "bpcourse"
        for root in (ours,) if args.only_ours else (stock, ours):
            make_class(root, names, args.students)
        py = sys.executable
        # Stock grades one assignment per command; ours takes them all in one run, sharing its workers.
        t_ours = timed(ours, [[py, "-m", "bpcourse.cli", "grade", *names, "--workers", str(args.workers)]])
        if args.only_ours:
            print(f"{args.students} students x {len(names)} notebooks: bpcourse grade ({args.workers} workers) "
                  f"{t_ours:.1f} s")
            return
        t_stock = timed(stock, [[py, "-m", "nbgrader", "autograde", n] for n in names])
        a, b = scores(stock), scores(ours)
        differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        print(f"{args.students} students x {len(names)} notebooks ({', '.join(names)})")
        print(f"stock nbgrader autograde: {t_stock:7.1f} s")
        print(f"bpcourse grade ({args.workers} workers): {t_ours:7.1f} s")
        print(f"ratio: {t_stock / t_ours:.2f}x")
        print(f"scores: {len(a)} graded cells, " + ("identical" if not differ else
              f"{len(differ)} differ, e.g. {[(k, a.get(k), b.get(k)) for k in differ[:5]]}"))
    finally:
        if args.keep:
            print(f"scratch classes kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
