"""Time `bpcourse grade` against stock `nbgrader autograde` on a scratch class, and compare their scores.

Every student hands in every notebook: two in three the solutions (as a student would type them), the third the
untouched release, so both full marks and zeros are compared. Both commands grade the same files in two copies
of the class, each with its own gradebook; the script prints both wall times, the ratio, and whether every
cell got the same score.

Usage: python benchmarks/grading_speed.py [--students 50] [--workers 2] [--assignment NAME ...] [--keep]
       [--only-ours] [--cluster]
With --cluster it also grades a third copy through `bpcourse grade --cluster` on a Dask scheduler and two
single-threaded workers it starts on 127.0.0.1 (and stops): on the same 2 cores that shows what the fan-out
costs, not a speed-up.
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
from bpcourse_instructor.course import assignments, release  # noqa: E402 (after the path is set)


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


def make_class(root: Path, names: list[str], students: int, *, stock: bool = False) -> None:
    """A scratch class. ``stock``: its nbgrader_config.py leaves nbgrader's own autograde converter in place (the
    course's file hands `nbgrader autograde` to bpcourse's pipeline, bpcourse_instructor.hub), so that `nbgrader
    autograde` there is nbgrader as shipped."""
    root.mkdir(parents=True)
    config = (REPO / "nbgrader_config.py").read_text(encoding="utf-8")
    if stock:
        assert "\n_install_course_autograde()\n" in config
        config = config.replace("\n_install_course_autograde()\n", "\n")
    (root / "nbgrader_config.py").write_text(config, encoding="utf-8")
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


class Cluster:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, stopped by their own pids."""

    def __init__(self, folder: Path, workers: int = 2):
        import json

        from distributed import Client

        dask, spec = str(Path(sys.executable).with_name("dask")), folder / "scheduler.json"
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": folder}
        self.procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                        "--scheduler-file", str(spec)], **quiet)]
        while not spec.exists():
            time.sleep(0.2)
        time.sleep(0.5)
        self.address = json.loads(spec.read_text())["address"]
        self.procs += [subprocess.Popen([dask, "worker", self.address, "--host", "127.0.0.1", "--nthreads", "1",
                                         "--no-nanny", "--no-dashboard"], **quiet) for _ in range(workers)]
        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=120)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait()


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
    parser.add_argument("--workers", type=int, default=min(2 * (os.cpu_count() or 1) + 1, 17))
    parser.add_argument("--assignment", action="append", help="only these assignments (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch classes and print where")
    parser.add_argument("--only-ours", action="store_true", help="time bpcourse grade alone (for tuning)")
    parser.add_argument("--cluster", action="store_true", help="also time bpcourse grade --cluster on a local "
                        "Dask scheduler and two workers")
    args = parser.parse_args()
    names = args.assignment or assignments(REPO)
    # nbgrader's gradebook runs `alembic` from PATH: make it the one installed beside this Python.
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

    scratch = Path(tempfile.mkdtemp(prefix="grading-speed-"))
    try:
        stock, ours, remote = scratch / "stock", scratch / "bpcourse", scratch / "cluster"
        for root in (ours,) if args.only_ours else (stock, ours):
            make_class(root, names, args.students, stock=root == stock)
        if args.cluster:
            shutil.copytree(ours, remote)
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
        if args.cluster:
            (scratch / "dask").mkdir()
            cluster = Cluster(scratch / "dask")
            try:
                t_cluster = timed(remote, [[py, "-m", "bpcourse.cli", "grade", *names, "--cluster", cluster.address]])
            finally:
                cluster.stop()
            c = scores(remote)
            differ += sorted(("cluster", *k) for k in b.keys() | c.keys() if b.get(k) != c.get(k))
        print(f"{args.students} students x {len(names)} notebooks ({', '.join(names)})")
        print(f"stock nbgrader autograde: {t_stock:7.1f} s")
        print(f"bpcourse grade ({args.workers} workers): {t_ours:7.1f} s")
        print(f"ratio: {t_stock / t_ours:.2f}x")
        if args.cluster:
            print(f"bpcourse grade --cluster (scheduler + 2 workers on 127.0.0.1): {t_cluster:7.1f} s "
                  f"(ratio to stock {t_stock / t_cluster:.2f}x)")
        print(f"scores: {len(a)} graded cells, " + ("identical" if not differ else
              f"{len(differ)} differ, e.g. {[(k, a.get(k), b.get(k)) for k in differ[:5]]}"))
    finally:
        if args.keep:
            print(f"scratch classes kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
