"""What a grading run checks and prepares around the notebooks: the kernels' confinement rules, the hidden
tests held in memory, MNIST for notebooks that load it, who handed in, and no stale score for a hand-in that
could not be graded this time. Used by :mod:`bpcourse_instructor.grading` and :mod:`bpcourse_instructor.cluster`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from . import traces
from .staging import Unreadable


def confinement(root: Path) -> tuple[str, str]:
    """(launcher rules as JSON, "yes" or why not) for confining grading kernels to what they need."""
    from . import confine

    if confine.abi() < 1:
        return "", "no: this system has no Landlock (Linux 5.13 or later); grade in a container"
    read, write, exposed = confine.kernel_paths(str(root))
    tmp = root / "build" / "grading" / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    rules = json.dumps({"read": read, "write": write, "tmp": str(tmp)})
    if exposed:
        return rules, f"partly: the course root lies inside {exposed[0]}, which kernels must read; move it"
    return rules, "yes"


def load_grader_tests() -> None:
    """Import every hidden-test module now, before any submission runs: the judge replays with the code
    held in memory, so a kernel that rewrites grader_tests on disk changes nothing it computes."""
    import importlib
    import pkgutil

    import grader_tests

    for info in pkgutil.iter_modules(grader_tests.__path__):
        importlib.import_module(f"grader_tests.{info.name}")


def fetch_data(root: Path, names: list[str]) -> bool:
    """Fetch MNIST now if a notebook loads it: confined kernels read the data but never download or write it,
    so a missing file would fail every student's training cells. Raises Unreadable with the advice; returns
    whether any notebook needs it."""
    from .course import RELEASE

    needs = [a for a in names if any("load_mnist(" in p.read_text(encoding="utf-8", errors="replace")
                                     for p in (Path(root) / RELEASE / a).glob("*.ipynb"))]
    if needs:
        from bpcourse.data import DataUnavailableError, fetch_mnist
        try:
            fetch_mnist()
        except DataUnavailableError as exc:
            raise Unreadable(f"{', '.join(needs)} loads MNIST, which the grader must have before grading "
                             f"starts: {exc}") from None
    return bool(needs)


def forget(gb, root: Path, assignment: str, student: str) -> str:
    """A hand-in that could not be graded now must not keep the score of an earlier one (a resubmission that
    is unreadable): remove that submission from the gradebook (grades.csv then shows 0) and its graded copy."""
    from nbgrader.api import MissingEntry

    try:
        sub = gb.find_submission(assignment, student)
    except MissingEntry:
        return ""
    earlier = [g for nb in sub.notebooks for g in nb.grades
               if (g.auto_score is not None or g.manual_score is not None) and not traces.is_placeholder(sub)]
    score = sub.score
    gb.remove_submission(assignment, student)
    shutil.rmtree(Path(root) / "autograded" / student / assignment, ignore_errors=True)
    return (f"; the {score:g} points of an earlier grading were removed from the gradebook (grades.csv shows 0)"
            if earlier else "")


def students_of(root: Path, assignment: str) -> list[str]:
    base = Path(root) / "submitted"
    return sorted(p.name for p in base.iterdir() if (p / assignment).is_dir()) if base.is_dir() else []
