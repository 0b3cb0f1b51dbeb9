"""Every repair and every unusual event of a grading run, written where the formgrader and the student look.

``bpcourse grade`` repairs hand-ins (staging), restarts dead kernels, stops cells at a time limit and overrules
test cells whose pass the replay does not confirm (the judge). The summary tells the instructor; this module
also writes each of them as nbgrader's automatic comment on the exercise's solution cell in the gradebook. The
formgrader shows that comment beside the cell, and nbgrader's feedback shows it to the student under the cell
("Comments: ..."). A manual comment written in the formgrader is kept apart by nbgrader and wins on display.

A hand-in that could not be graded at all (refused at staging, or lost with its worker) gets a page too
(:func:`placeholder`): the released notebook with a note at the top, every graded cell at 0 points and the reason
as the comment on its first solution cell, so the formgrader lists it and the feedback tells the student why.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from bpcourse.i18n import N_, translate

from .course import RELEASE
from .editions import language_of_notebook
from .staging import NOTE_TAG, inert_text, plain_name

# Error outputs the executor writes (bpcourse_instructor.execute) or nbclient raises, by name.
EVENTS = {"KernelDied", "TimeBudget", "CellTimeoutError"}
OVERRULED = N_("This check passed inside your notebook's kernel, but not when the grader ran it again on its own "
               "(something in the notebook changed what the check saw), so it scores 0. The message in the check "
               "cell says what the check found.")
REPAIRED = N_("The grader changed your hand-in before grading it: {changes}.")
NOT_GRADED = N_("Your hand-in could not be graded ({reason}), so every exercise scores 0 for now. This page is the "
                "released notebook, not yours; your instructor has been told.")
NOTE = N_("**Note from the grader.** {sentence}")


def _graded(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def notes(nb, overruled: list[str], changes: list[str]) -> dict[str, list[str]]:
    """{solution cell grade_id: sentences} for one graded notebook: each test cell's events go to the solution
    cell above it, a solution cell's own events to itself, the repairs to the first solution cell."""
    out: dict[str, list[str]] = {}
    owner = None
    first = _first_solution(nb)
    language = language_of_notebook(nb)
    for cell in nb.cells:
        meta = _graded(cell)
        if meta.get("solution"):
            owner = meta["grade_id"]
        gid = meta.get("grade_id")
        target = owner if meta.get("grade") and not meta.get("solution") else (gid if meta.get("solution") else None)
        if target is None:
            continue
        label = "" if target == gid else translate("The check {gid}: ", language, gid=gid)
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error" and o.get("ename") in EVENTS:
                out.setdefault(target, []).append(f"{label}{o.get('ename')}: {o.get('evalue', '')}")
        if gid in overruled:
            out.setdefault(target, []).append(f"{label}{translate(OVERRULED, language)}")
    if changes and first:
        out.setdefault(first, []).insert(0, translate(REPAIRED, language, changes="; ".join(changes)))
    return out


def write(gb, root: Path, outcome) -> int:
    """Write ``outcome``'s notes (an Outcome of a graded submission) as automatic comments in ``gb``; returns
    how many solution cells got one."""
    folder = Path(root) / "autograded" / outcome.student / outcome.assignment
    written = 0
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for grade_id, sentences in notes(nb, outcome.overruled, outcome.changes).items():
            comment = gb.find_comment(grade_id, path.stem, outcome.assignment, outcome.student)
            kept = [] if comment.auto_comment in (None, "") else [comment.auto_comment]
            comment.auto_comment = "\n\n".join(kept + sentences)
            written += 1
    gb.db.commit()
    return written


def placeholder(gb, root: Path, outcome, reason: str) -> None:
    """Record ``outcome`` (one that could not be graded, for ``reason``) as a submission scoring 0: the released
    notebook with a note in ``autograded/``, 0 on every graded cell and the reason on the first solution cell."""
    a, s = outcome.assignment, outcome.student
    released = Path(root) / RELEASE / a / f"{a}.ipynb"
    if not (plain_name(a) and plain_name(s) and released.is_file()):  # no page to write; the summary says why
        return
    nb = nbformat.read(released, as_version=4)
    language = language_of_notebook(nb)
    sentence = translate(NOT_GRADED, language, reason=inert_text(reason[:500]))
    note = nbformat.v4.new_markdown_cell(translate(NOTE, language, sentence=sentence))
    note.metadata["tags"] = [NOTE_TAG]
    nb.cells.insert(0, note)
    folder = Path(root) / "autograded" / s / a
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{a}.ipynb")
    gb.update_or_create_student(s)
    sub = gb.update_or_create_submission(a, s)
    for notebook in sub.notebooks:
        for grade in notebook.grades:
            grade.auto_score, grade.needs_manual_grade = 0.0, False
        first = next((c for c in notebook.comments if c.cell.name == _first_solution(nb)), None)
        if first is not None:
            first.auto_comment = sentence
    gb.db.commit()


def _first_solution(nb) -> str | None:
    return next((_graded(c)["grade_id"] for c in nb.cells if _graded(c).get("solution")), None)


def is_placeholder(submission) -> bool:
    """Whether a gradebook submission is a :func:`placeholder` (so it holds no points of an earlier grading)."""
    starts = tuple(translate(NOT_GRADED, language).split("{")[0] for language in ("en", "ko"))
    return any((c.auto_comment or "").startswith(starts) for nb in submission.notebooks for c in nb.comments)
