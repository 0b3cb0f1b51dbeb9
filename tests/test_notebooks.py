"""The course pipeline: solutions validate, the release is nbgrader's output, and it leaks nothing."""

import json

import nbformat
import pytest

from conftest import REPO, assignment_names
from nbrun import errors, execute, hidden_regions, is_graded_test, solution_regions

NAMES = assignment_names()


def notebook(kind: str, name: str):
    return REPO / kind / name / f"{name}.ipynb"


def test_every_assignment_has_a_release():
    assert NAMES, "no assignments under solutions/"
    assert sorted(p.name for p in (REPO / "course").iterdir() if p.is_dir()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_course_equals_what_nbgrader_generates(generated, name):
    committed = nbformat.read(notebook("course", name), as_version=4)
    fresh = nbformat.read(generated / "course" / name / f"{name}.ipynb", as_version=4)
    assert len(committed.cells) == len(fresh.cells), f"course/{name}: regenerate it (see README)"
    for i, (a, b) in enumerate(zip(committed.cells, fresh.cells)):
        assert (a.cell_type, a.source, a.metadata.get("nbgrader")) == \
               (b.cell_type, b.source, b.metadata.get("nbgrader")), \
               f"course/{name} cell {i} differs from nbgrader's output: regenerate course/ (see README)"


@pytest.mark.parametrize("kind", ["solutions", "course"])
def test_notebooks_are_committed_without_outputs(kind):
    for path in sorted((REPO / kind).glob("*/*.ipynb")):
        nb = json.loads(path.read_text())
        dirty = [i for i, c in enumerate(nb["cells"]) if c.get("outputs") or c.get("execution_count")]
        assert not dirty, f"{path.relative_to(REPO)} has outputs in cells {dirty}"


def _course_lines() -> set[str]:
    lines = set()
    for path in (REPO / "course").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            if path.suffix == ".ipynb":
                text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
            lines.update(line.strip() for line in text.splitlines())
    return lines


@pytest.mark.parametrize("name", NAMES)
def test_no_solution_or_hidden_test_line_in_course(name):
    course_text = _course_lines()
    nb = nbformat.read(notebook("solutions", name), as_version=4)
    # A line that the solution notebook also shows outside every answer region is not a secret.
    public = set()
    for cell in nb.cells:
        inside = set(map(str.strip, solution_regions(cell.source) + hidden_regions(cell.source)))
        public.update(line.strip() for line in cell.source.splitlines() if line.strip() not in inside)
    secret = set()
    for cell in nb.cells:
        secret.update(line.strip() for line in solution_regions(cell.source) + hidden_regions(cell.source))
    secret = {s for s in secret - public if s and not s.startswith("#")}
    assert secret, f"{name}: no solution or hidden-test lines found (markers missing?)"
    leaked = sorted(secret & course_text)
    assert not leaked, f"course/ contains answer lines of {name}: {leaked[:5]}"
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "grader_tests"):
        assert not any(marker in line for line in course_text), f"course/ contains {marker!r}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_solution_passes_nbgrader_validation(name):
    from nbgrader.validator import Validator
    results = Validator().validate(str(notebook("solutions", name)))
    assert results == {}, f"{name}: nbgrader validate failed:\n" + "\n".join(
        r.get("raw_error", r.get("source", "")) for r in results.get("failed", results.get("changed", [])))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_release_fails_every_graded_test_and_runs_the_rest(name):
    nb = execute(notebook("course", name))
    graded = [c for c in nb.cells if is_graded_test(c)]
    assert graded, f"{name} has no graded test cells"
    for cell in nb.cells:
        if is_graded_test(cell):
            assert errors(cell), f"{name}: graded cell {cell.metadata.nbgrader['grade_id']} passes on the stub"
        else:
            assert not errors(cell), (f"{name}: a non-test cell fails in the release:\n{cell.source[:300]}\n"
                                      f"{errors(cell)[0]['ename']}: {errors(cell)[0]['evalue']}")
