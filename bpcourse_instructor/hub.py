"""Every way to autograde this course grades the way ``bpcourse grade`` does.

nbgrader has three entry points to its autograder: the ``nbgrader autograde`` command, the formgrader's
Autograde button, and ``NbGraderAPI.autograde``. All three make an instance of nbgrader's ``Autograde``
converter, which reads ``submitted/`` as it is: it follows links, grades duplicated cells, runs kernels with
the grader's environment, trusts the kernel's word on each test and zeroes a cell that writes to stderr.

:func:`install` (called by the course's ``nbgrader_config.py``, so it holds wherever nbgrader reads that file)
puts :class:`CourseAutograde` in its place. Asked to grade, it runs :func:`bpcourse_instructor.grading.grade`
for the same assignment and students: the same staging, repairs, executor, confined kernels, replay judge and
gradebook writes, so the three paths and ``bpcourse grade`` give the same verdicts. Inside ``bpcourse grade``
itself (its workers call nbgrader's API for each staged notebook) the class is nbgrader's, unchanged.

What the stock command does not get: ``bpcourse grade``'s summary on the terminal (the log has one line per
student instead, and the formgrader shows that log when a hand-in could not be graded), parallel workers beyond
``c.CourseAutograde.workers``, and ``--cluster``. Like ``bpcourse grade`` it always grades afresh, with or without
``--force``.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from nbgrader.converters import Autograde, NbGraderException
from traitlets import Int


class CourseAutograde(Autograde):
    """nbgrader's Autograde, which hands the work to ``bpcourse grade``'s pipeline when nbgrader's own entry
    points call it (``nbgrader autograde``, the formgrader, ``NbGraderAPI.autograde``)."""

    workers = Int(2, help="notebooks graded at once when nbgrader's own commands grade").tag(config=True)
    notebook_timeout = Int(None, allow_none=True, help="seconds per notebook, restarts and replays included, as "
                           "bpcourse grade's --notebook-timeout (default: bpcourse grade's)").tag(config=True)

    def start(self) -> None:
        from .grading import GRADING, Unreadable, grade, students_of

        if GRADING["active"]:  # called by bpcourse grade itself, on a staged notebook: nbgrader's own work
            return super().start()

        root = Path(self.coursedir.root)
        assignment = self.coursedir.assignment_id
        pattern = self.coursedir.student_id or "*"
        students = [s for s in students_of(root, assignment) if fnmatch.fnmatchcase(s, pattern)]
        if not students:
            self.log.warning("No submissions of %s match student %r in %s", assignment, pattern,
                             self.coursedir.submitted_directory)
            return
        self.log.info("Grading %d submission(s) of %s as `bpcourse grade` does (bpcourse_instructor.hub)",
                      len(students), assignment)
        # What this command was configured with (files and its own command line) and grade() would not read
        # from the files alone: the gradebook and the cell timeout.
        timeout = int(self.config.Execute.timeout) if "timeout" in self.config.Execute else None
        try:
            budget = {} if self.notebook_timeout is None else {"notebook_timeout": self.notebook_timeout}
            outcomes = grade(root, assignment, students, workers=self.workers, progress=False, export=None,
                             timeout=timeout, config=[f"--CourseDirectory.db_url={self.coursedir.db_url}"],
                             start_method="forkserver", **budget)
        except Unreadable as exc:  # e.g. the assignment is not in the gradebook: nothing was graded
            self.log.error("%s", exc)
            raise NbGraderException(str(exc)) from None
        for o in outcomes:
            if o.problem:
                self.log.error("%s %s: not graded: %s", o.assignment, o.student, o.problem)
            else:
                notes = [o.lateness()] + o.changes + (
                    [f"passed in the kernel but not on replay: {', '.join(o.overruled)}"] if o.overruled else [])
                self.log.info("%s %s: %g/%g%s", o.assignment, o.student, o.score, o.max_score,
                              "".join(f"; {n}" for n in notes if n))
        failed = [o.student for o in outcomes if o.problem]
        if failed:  # after everyone else is graded; nbgrader's command then exits with 1
            message = f"could not grade {', '.join(failed)} (see the messages above)"
            self.log.error(message)
            raise NbGraderException(message)


def install() -> None:
    """Make nbgrader's autograde command, API and formgrader use :class:`CourseAutograde`."""
    from nbgrader.apps import api, autogradeapp

    autogradeapp.Autograde = CourseAutograde
    api.Autograde = CourseAutograde
