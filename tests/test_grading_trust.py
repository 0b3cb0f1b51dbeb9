"""Grading that deserves trust: hand-ins that are not plain files, and edited nbgrader metadata.

One `bpcourse grade` run over notebook 03 grades, beside an untouched correct and a blank hand-in, a student per
case below. Links, pipes and link folders must never bring anything into the grading (a link to `solutions/`
used to hand the kernel the instructor's notebook), one odd file must not stop the run, and edited grading
metadata must not cost the student the notebook: the release decides what is graded. Every repair or refusal
says what happened in the summary and, for graded students, in nbgrader's feedback.
"""

import json
import os
import sys

import nbformat
import pytest
from conftest import copy_course
from test_autograde import _DOUBLE_BACKWARD, _submission

NAME = "03_add_mul_nodes"
NB = f"{NAME}.ipynb"
FULL = {"test_mul_layer": 2.0, "test_add_layer": 2.0, "test_max_layer": 2.0}
NONE = set(FULL)

# A blank notebook whose first exercise cell takes every solution from a file beside it, as it would
# if a link to the instructor's solutions/ came into the grading folder.
_READ_BESIDE = """
import json, pathlib
for _c in json.loads(pathlib.Path({path!r}).read_text())["cells"]:
    if _c["metadata"].get("nbgrader", {{}}).get("solution"):
        exec("".join(_c["source"]))
"""


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _blank():
    return nbformat.read(os.path.join(os.path.dirname(__file__), "..", "course", NAME, NB), as_version=4)


def _reads_beside(path):
    nb = _blank()
    cell = _cell(nb, "mul_layer")
    cell.source = _READ_BESIDE.format(path=path)
    return nb


def _cases(root):
    """student -> (how to lay out the hand-in, cells that lose their points or None if refused, words)."""
    solutions = root / "solutions" / NAME
    wrong_mul = _DOUBLE_BACKWARD.format(cls="MulLayer")

    def marked(grade_id, **changes):
        nb = _submission(NAME)
        _cell(nb, grade_id).metadata.nbgrader.update(changes)
        return nb

    new_cell = nbformat.v4.new_code_cell("bonus = 1")
    new_cell.metadata["nbgrader"] = {"grade": True, "grade_id": "my_bonus", "points": 10, "solution": False,
                                     "locked": False, "schema_version": 3}
    with_new = _submission(NAME)
    with_new.cells.append(new_cell)

    remarked_wrong = _submission(NAME, ("mul_layer", wrong_mul))
    test = _cell(remarked_wrong, "test_mul_layer")
    test.source = "print('all good')"
    test.metadata.nbgrader.update(solution=True, locked=False)

    as_markdown = _submission(NAME)
    i = as_markdown.cells.index(_cell(as_markdown, "test_add_layer"))
    old = as_markdown.cells[i]
    as_markdown.cells[i] = nbformat.v4.new_markdown_cell(old.source, metadata=old.metadata, id=old.id)

    garbage = _submission(NAME)
    garbage.cells[0].metadata["nbgrader"] = "not a dict"

    return {
        "full": ({NB: _submission(NAME)}, set(), ""),
        "blank": ({NB: _blank()}, NONE, ""),
        # Not plain files
        "link_to_solutions": ({NB: _reads_beside("answers/" + NB), "answers": ("link", solutions)}, NONE,
                              "left out answers: a symbolic link"),
        "file_link_to_solutions": ({NB: _reads_beside("answers.json"), "answers.json": ("link", solutions / NB)},
                                   NONE, "left out answers.json: a symbolic link"),
        "notebook_is_a_link": ({NB: ("link", solutions / NB)}, None, "is a symbolic link"),
        "folder_is_a_link": (("link", solutions), None, "is a symbolic link, not a folder"),
        "dangling_link": ({NB: _submission(NAME), "data.npy": ("link", root / "no" / "such" / "file")}, set(),
                          "left out data.npy: a symbolic link"),
        "named_pipe": ({NB: _submission(NAME), "pipe": ("fifo",)}, set(), "left out pipe: a named pipe"),
        "nested_link": ({NB: _reads_beside("more/answers/" + NB), "more/answers": ("link", solutions)}, NONE,
                        "left out more/answers: a symbolic link"),
        # Edited metadata: the release decides
        "new_grade_id": ({NB: with_new}, set(), "'my_bonus' carried grading marks the release does not have"),
        "test_marked_solution": ({NB: marked("test_mul_layer", solution=True, locked=False)}, set(),
                                 "'test_mul_layer' had edited grading metadata"),
        "remarked_and_wrong": ({NB: remarked_wrong}, {"test_mul_layer"}, "'test_mul_layer' had edited"),
        "points_changed": ({NB: marked("test_max_layer", points=50)}, set(), "points: 50 -> 2"),
        "solution_marked_test": ({NB: marked("add_layer", grade=True, solution=False, points=5)}, set(),
                                 "'add_layer' had edited grading metadata"),
        "test_as_markdown": ({NB: as_markdown}, set(), "cell type: markdown -> code"),
        "garbage_metadata": ({NB: garbage}, set(), "carried grading marks the release does not have"),
    }


def _lay_out(folder, layout):
    if isinstance(layout, tuple):  # the assignment folder itself is a link
        folder.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(layout[1], folder)
        return
    folder.mkdir(parents=True)
    for name, what in layout.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(what, nbformat.NotebookNode):
            path.write_text(json.dumps(what))  # as it was handed in, unvalidated
        elif what[0] == "link":
            os.symlink(what[1], path)
        elif what[0] == "fifo":
            os.mkfifo(path)


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    from bpcourse.grading import grade, summary
    from bpcourse.instructor import release

    root = copy_course(tmp_path_factory.mktemp("trust"))
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    release(root, [NAME])
    cases = _cases(root)
    for student, (layout, _, _) in cases.items():
        _lay_out(root / "submitted" / student / NAME, layout)
    cwd = os.getcwd()
    try:
        os.chdir(root)
        outcomes = {o.student: o for o in grade(root, NAME, workers=2, timeout=10, progress=False)}
    finally:
        os.chdir(cwd)
    return root, cases, outcomes, summary(list(outcomes.values()))


@pytest.mark.slow
def test_each_case_scores_what_it_deserves(trial):
    _, cases, outcomes, _ = trial
    wrong = []
    for student, (_, loses, _) in cases.items():
        o = outcomes[student]
        if loses is None:
            if not o.problem:
                wrong.append(f"{student}: graded {o.score}, should have been refused")
            continue
        if o.problem:
            wrong.append(f"{student}: not graded: {o.problem}")
            continue
        expected = {cell: 0.0 if cell in loses else top for cell, top in FULL.items()}
        got = {cell: score for cell, (score, _) in o.cells.items()}
        if got != expected:
            wrong.append(f"{student}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.slow
def test_the_summary_says_what_happened_to_each(trial):
    _, cases, outcomes, text = trial
    for student, (_, _, words) in cases.items():
        if words:
            said = outcomes[student].problem or "; ".join(outcomes[student].changes)
            assert words in said, f"{student}: {said!r}"
            assert words in text, f"{student}: the summary does not say {words!r}"


@pytest.mark.slow
def test_nothing_of_the_instructors_reaches_the_grading_folders(trial):
    root = trial[0]
    marker = "### BEGIN SOLUTION"
    for top in ("build/grading/submitted", "autograded"):
        for path in (root / top).rglob("*"):
            assert not path.is_symlink(), f"{path} is a link"
            if path.is_file():
                assert marker not in path.read_text(errors="replace"), f"{path} holds the instructor's solutions"


@pytest.mark.slow
def test_graded_students_are_told_in_their_feedback(trial):
    from bpcourse.instructor import nbgrader_api

    root, cases, outcomes, _ = trial
    api = nbgrader_api(root)
    for student in ("dangling_link", "test_marked_solution", "new_grade_id", "link_to_solutions"):
        result = api.generate_feedback(NAME, student, force=True)
        assert result["success"], result.get("error")
        html = (root / "feedback" / student / NAME / f"{NAME}.html").read_text()
        assert "Note from the grader" in html, student
        assert "BEGIN HIDDEN TESTS" not in html and "check_mul_layer(MulLayer)" not in html
    # ... and nobody is told about repairs that were not made.
    untouched = nbformat.read(root / "autograded" / "full" / NAME / NB, as_version=4)
    assert not any("Note from the grader" in c.source for c in untouched.cells)


@pytest.mark.slow
def test_the_handed_in_files_are_left_as_they_were(trial):
    root = trial[0]
    assert os.path.islink(root / "submitted" / "dangling_link" / NAME / "data.npy")
    assert (root / "solutions" / NAME / NB).is_file()
