"""What happened to each submission (:class:`Outcome`), the summary ``bpcourse grade`` prints, and the
per-exercise grades it writes beside nbgrader's ``grades.csv``."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bpcourse.i18n import translate

from .inert import printable


@dataclass
class Outcome:
    """What happened to one submission: its score, or why it could not be graded, and what was repaired."""

    assignment: str
    student: str
    score: float | None = None
    max_score: float | None = None
    problem: str = ""                      # why it could not be graded (empty when graded)
    changes: list[str] = field(default_factory=list)
    cells: dict[str, tuple[float, float]] = field(default_factory=dict)  # grade_id -> (score, max)
    overruled: list[str] = field(default_factory=list)  # test cells that passed in the kernel, not on replay
    confined: str = ""  # "yes", or why the kernel's view of the disk was not confined
    names: dict[str, str] = field(default_factory=dict)  # grade_id -> exercise name (bpcourse_instructor.exercises)
    seconds_late: float = 0.0   # after the due date in nbgrader's gradebook (timestamp.txt of the hand-in)
    late_penalty: float = 0.0   # points nbgrader's late-submission plugin took off (score is after it)
    language: str = "en"        # the edition the student worked in: their line of the summary is in it

    def _(self, text: str, **fields) -> str:
        return translate(text, self.language, **fields)

    def lateness(self) -> str:
        """"late by 2 h 05 min, -1 point" when the hand-in came after the due date, else ""."""
        if self.seconds_late <= 0:
            return ""
        minutes = int(round(self.seconds_late / 60))
        days, rest = divmod(minutes, 24 * 60)
        when = (self._("{days} d ", days=days) if days else "") + self._("{hours} h {minutes:02d} min",
                                                                         hours=rest // 60, minutes=rest % 60)
        if not self.late_penalty:
            return self._("late by {when}, no penalty", when=when)
        if self.late_penalty == 1:
            return self._("late by {when}, -1 point for it (nbgrader's late penalty, taken off the score shown, as in "
                          "grades.csv)", when=when)
        return self._("late by {when}, -{points:g} points for it (nbgrader's late penalty, taken off the score "
                      "shown, as in grades.csv)", when=when, points=self.late_penalty)

    def lost(self) -> str:
        """The exercises that lost points, by name, in notebook order: "Exercise 3 — MaxLayer (0/2)"."""
        order = list(self.names)
        cells = sorted(self.cells.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order),
                                                            kv[0]))
        return ", ".join(f"{self.names.get(cell) or cell} ({score or 0:g}/{top:g})"
                         for cell, (score, top) in cells if (score or 0) < top)


def name_exercises(outcomes: Iterable[Outcome], root: Path) -> None:
    """Give each outcome the names of its assignment's exercises, read once per assignment."""
    from .exercises import names_for

    names: dict[str, dict[str, str]] = {}
    for o in outcomes:
        if o.assignment not in names:
            names[o.assignment] = names_for(root, o.assignment)
        o.names = names[o.assignment]


def by_exercise(export: str) -> str:
    """Where the per-exercise grades go: beside ``export`` (grades.csv -> grades_by_exercise.csv)."""
    path = Path(export)
    return str(path.with_name(f"{path.stem}_by_exercise{path.suffix or '.csv'}"))


BY_EXERCISE_COLUMNS = ["assignment", "student", "notebook", "grade_id", "exercise", "score", "max_score",
                       "seconds_late", "late_penalty", "edition", "base_assignment"]


def write_by_exercise(gb, root: Path, path: Path) -> int:
    """Write one row per graded cell of every submission in the gradebook ``gb`` (nbgrader's Gradebook) to
    ``path``: every student graded so far, not only this run's. A student who handed nothing in has no rows
    (nbgrader's grades.csv shows them 0); a cell waiting for a manual grade has an empty score. Lateness is the
    submission's: how late it came, and the points nbgrader's late-penalty plugin took off the notebook (each row
    of that notebook repeats it; scores are before the penalty, as nbgrader keeps them). ``edition`` (en, ko) and
    ``base_assignment`` (the English assignment both editions share) let a class that mixes the editions be
    totalled per exercise whichever edition each student worked in. Returns the number of rows."""
    from .editions import english_name, language_of
    from .exercises import names_for

    rows = []
    for assignment in gb.assignments:
        names = names_for(root, assignment.name)
        order = list(names)
        edition = [language_of(root, assignment.name), english_name(assignment.name)]
        for sub in sorted(assignment.submissions, key=lambda s: s.student.id):
            for nb in sorted(sub.notebooks, key=lambda n: n.name):
                grades = sorted((g for g in nb.grades if g.max_score),
                                key=lambda g: (order.index(g.name) if g.name in order else len(order), g.name))
                late = [float(sub.total_seconds_late or 0), float(nb.late_submission_penalty or 0)]
                rows += [[assignment.name, sub.student.id, nb.name, g.name, names.get(g.name) or g.name,
                          "" if g.score is None else float(g.score), float(g.max_score), *late, *edition]
                         for g in grades]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(BY_EXERCISE_COLUMNS)
        writer.writerows(rows)
    return len(rows)


def _coverage() -> str:
    """What Landlock confines on this system, in words: "disk, /proc, TCP, signals; not UDP"."""
    from . import confine

    got = confine.coverage()
    names = {"disk": "disk", "/proc": "/proc", "network": "TCP", "signals": "signals"}
    on = [names[k] for k, v in got.items() if v]
    off = [names[k] for k, v in got.items() if not v] + ["UDP"]
    abi = f" (Landlock ABI {confine.abi()})" if len(off) > 1 else ""
    return ", ".join(on) + "; not " + ", ".join(off) + abi


def _student_line(o: Outcome) -> str:
    """One graded student's line of the summary, in the language of the edition they worked in."""
    return (f"  {o.assignment} {o.student}: {o.score:g}/{o.max_score:g}"
            + (f"  {o.lateness()}" if o.lateness() else "")
            + (o._("  lost: {exercises}", exercises=o.lost()) if o.lost() else "")
            + (f"  ({'; '.join(o.changes)})" if o.changes else "")
            + (o._("  [passed in the kernel but not on replay: {cells}; see the feedback]",
                   cells=", ".join(o.overruled)) if o.overruled else ""))


def summary(outcomes: list[Outcome], export: str | None = "grades.csv") -> str:
    graded = [o for o in outcomes if not o.problem]
    failed = [o for o in outcomes if o.problem]
    lines = [f"graded {len(graded)} of {len(outcomes)} submissions"]
    lines += [_student_line(o) for o in graded]
    if failed:
        lines.append(f"could not grade {len(failed)}:")
        lines += [f"  {o.assignment} {o.student}: {o.problem}" for o in failed]  # for the instructor: English
        if any(o.confined == "yes" and "nbgrader failed" in o.problem for o in failed):
            lines.append("  (if a kernel could not start, build/grading/kernels.log says why; --no-confine "
                         "grades without confining kernels)")
    kinds = {o.confined for o in outcomes if o.confined}
    for kind in sorted(kinds):
        lines.append(f"kernels confined ({_coverage()}): {kind}")
    if outcomes:
        lines.append("kernel environment and terminal: isolated (allow-listed variables only, no terminal)")
    if export:
        lines.append(f"grades of every assignment written to {export} (`nbgrader export` writes the same file), "
                     f"per exercise to {by_exercise(export)}")
    return printable("\n".join(lines))  # student ids and nbgrader's messages may hold terminal escapes
