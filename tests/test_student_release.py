"""The student-facing tree: exported without answers, renderable by repo2docker, installable and runnable."""

import json
import os
import re
import shutil
import subprocess
import sys
import venv

import pytest
from conftest import NEEDS_MNIST, REPO, SHARED_MNIST, planted_checks
from nbrun import secret_lines, tree_lines

from bpcourse_instructor import colab
from bpcourse_instructor.export import SETUP_CELL_ID, ExportError, colab_setup_source, export_student

# The parts of the repository export_student reads, for scratch copies a test may dirty.
EXPORT_READS = ["course", "bpcourse", "binder", "LICENSE", "pyproject.toml", "solutions", "nbgrader_config.py",
                "grader_tests"]
TRIED = "04_activation_layers"  # the notebook an instructor "tries" in course/
STUDENT_REPO, BRANCH = "someone/backprop", "term-2027"  # where the `exported` fixture's tree would be pushed
COLAB_LINK = re.compile(r"\((https://colab\.research\.google\.com/github/[^)\s]+)\)")


def colab_url(name, repo=STUDENT_REPO, branch=BRANCH):
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/course/{name}/{name}.ipynb"


def scratch_repo(dest):
    """A scratch copy of what export_student reads."""
    dest.mkdir(parents=True)
    for name in EXPORT_READS:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def clean_repo(tmp_path_factory):
    """A scratch copy of what export_student reads, its course/ released afresh from solutions/: these tests check
    the export, not whether the working tree's course/ is up to date (test_notebooks.py checks that, and
    export_student refuses a stale one)."""
    from bpcourse_instructor.course import release

    repo = scratch_repo(tmp_path_factory.mktemp("clean") / "repo")
    release(repo, use_db=False)
    return repo


def repo_copy(clean_repo, tmp_path):
    """A copy of clean_repo a test may dirty."""
    return shutil.copytree(clean_repo, tmp_path / "repo")


@pytest.fixture(scope="module")
def exported(clean_repo, tmp_path_factory):
    dest = tmp_path_factory.mktemp("student") / "backprop-student"
    export_student(clean_repo, dest, repo=STUDENT_REPO, branch=BRANCH)
    return dest


def test_export_holds_no_answers(exported):
    assert not (exported / "solutions").exists() and not (exported / "grader_tests").exists()
    assert not list(exported.rglob("gradebook.db")) and not list(exported.rglob("test_*.py"))
    secret = secret_lines(sorted((REPO / "solutions").glob("*/*.ipynb")))
    assert len(secret) > 20, "the leak check found almost no answer lines to look for"
    for path, lines in tree_lines(exported).items():
        leaked = secret & lines
        assert not leaked, f"{path.relative_to(exported)} holds answer lines: {sorted(leaked)[:3]}"
        if path.suffix == ".ipynb":
            assert not any("HIDDEN TESTS" in line or "grader_tests" in line for line in lines), path


def test_export_has_what_students_need(exported):
    names = {p.name for p in exported.iterdir()}
    assert {"course", "bpcourse", "binder", "README.md", "LICENSE", "pyproject.toml"} <= names
    assert sorted(p.name for p in (exported / "course").iterdir()) == \
        sorted(p.name for p in (REPO / "course").iterdir() if p.is_dir())
    readme = (exported / "README.md").read_text()
    assert "mybinder.org/v2/gh/someone/backprop/HEAD?urlpath=lab/tree/course/01_" in readme
    assert "grader_tests" not in (exported / "pyproject.toml").read_text()


def test_export_starts_every_notebook_with_the_colab_setup_cell_and_changes_nothing_else(clean_repo, exported):
    """Each exported notebook is nbgrader's fresh release (clean_repo's course/ is one) with one cell put first:
    the Colab set-up cell, ungraded (no nbgrader metadata), installing bpcourse from the student repository."""
    import nbformat

    notebooks = sorted((exported / "course").glob("*/*.ipynb"))
    assert [p.stem for p in notebooks] == sorted(p.name for p in (clean_repo / "course").iterdir() if p.is_dir())
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        release = nbformat.read(released_notebook(clean_repo, path.stem), as_version=4)
        setup = nb.cells[0]
        assert setup.cell_type == "code" and setup.id == SETUP_CELL_ID and setup.metadata == {}, setup
        language = "ko" if path.stem.endswith("_ko") else "en"  # the Korean cell speaks Korean, installs the font
        assert setup.source == colab_setup_source(STUDENT_REPO, BRANCH, language) and setup.outputs == [], path.name
        package = "bpcourse[ko]" if language == "ko" else "bpcourse"
        assert f'"{package} @ git+https://github.com/{STUDENT_REPO}@{BRANCH}"' in setup.source
        assert nb.cells[1:] == release.cells and nb.metadata == release.metadata, f"{path.name} changed otherwise"
        assert SETUP_CELL_ID not in {c.get("id") for c in release.cells}, "course/ itself got the set-up cell"
        nbformat.validate(nb)


def test_export_readme_opens_every_notebook_in_colab(exported):
    """README.md opens every English notebook in Colab, README.ko.md every Korean one, each with its Binder badge."""
    names = sorted(p.name for p in (exported / "course").iterdir())
    for filename, edition in (("README.md", [n for n in names if not n.endswith("_ko")]),
                              ("README.ko.md", [n for n in names if n.endswith("_ko")])):
        text = (exported / filename).read_text(encoding="utf-8")
        assert edition and COLAB_LINK.findall(text) == [colab_url(name) for name in edition], text
        assert "{colab_links}" not in text and "{binder_url}" not in text
        assert f"lab/tree/course/{edition[0]}/{edition[0]}.ipynb" in text, filename
    assert "README.ko.md" in (exported / "README.md").read_text(encoding="utf-8")  # the way to the Korean one
    readme = (exported / "README.md").read_text()
    # Colab is temporary too, and says how to keep the work; large classes go to the campus JupyterHub.
    prose = " ".join(readme.split())
    for words in ("Colab sessions are temporary too", "File → Save a copy in Drive", "Download .ipynb",
                  "campus JupyterHub", "in a large class", "nbgrader", "about 100 people use this repository"):
        assert words in prose, words


def test_export_refuses_a_repository_or_branch_that_is_no_name(clean_repo, tmp_path):
    for kwargs, words in [({"repo": 'someone/x"); import os; ("'}, "--repo"), ({"repo": "no-slash"}, "--repo"),
                          ({"branch": "../main"}, "--branch"), ({"branch": "a b"}, "--branch")]:
        with pytest.raises(ExportError, match=words):
            export_student(clean_repo, tmp_path / "student", **kwargs)
    assert not (tmp_path / "student").exists()
    result = subprocess.run([sys.executable, "-m", "bpcourse.cli", "--root", str(clean_repo), "export-student",
                             str(tmp_path / "student"), "--repo", "a/b", "--branch", "x..y"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "--branch 'x..y' is not a git branch name" in result.stderr, result


def test_export_checks_the_setup_cell_line_by_line_too(clean_repo, tmp_path, monkeypatch):
    answer = max(secret_lines(sorted((REPO / "solutions").glob("*/*.ipynb"))), key=lambda line: (len(line), line))
    monkeypatch.setattr(colab, "COLAB_SETUP", colab.COLAB_SETUP + answer + "\n")
    dest = tmp_path / "student"
    with pytest.raises(ExportError) as refused:
        export_student(clean_repo, dest, names=[TRIED])
    line = len(colab.COLAB_SETUP.splitlines())
    assert f"course/{TRIED}/{TRIED}.ipynb cell 0, line {line}: {answer!r}" in str(refused.value), str(refused.value)
    assert list(dest.iterdir()) == []


def test_export_refuses_a_non_empty_destination_unless_told(clean_repo, tmp_path):
    dest = tmp_path / "student"
    (dest / ".git").mkdir(parents=True)
    (dest / "old.txt").write_text("stale")
    with pytest.raises(ExportError, match="not empty; pass --overwrite"):
        export_student(clean_repo, dest)
    assert (dest / "old.txt").exists()  # nothing lost on refusal
    export_student(clean_repo, dest, overwrite=True)
    assert not (dest / "old.txt").exists() and (dest / ".git").is_dir() and (dest / "course").is_dir()


def test_export_can_hold_only_the_assignments_released_so_far(clean_repo, tmp_path):
    export_student(clean_repo, tmp_path / "s", names=["01_computational_graphs", "02_chain_rule"], edition="en")
    assert sorted(p.name for p in (tmp_path / "s" / "course").iterdir()) == ["01_computational_graphs",
                                                                            "02_chain_rule"]
    assert not (tmp_path / "s" / "README.ko.md").exists()
    assert "README.ko.md" not in (tmp_path / "s" / "README.md").read_text(encoding="utf-8")  # no dangling pointer
    # One Colab link per exported notebook, on the default branch, for the default (placeholder) repository.
    assert COLAB_LINK.findall((tmp_path / "s" / "README.md").read_text()) == [
        colab_url(name, "OWNER/REPO", "main") for name in ("01_computational_graphs", "02_chain_rule")]
    # Asking for both editions where only one is released exports that one, without a pointer to the other.
    only_english = scratch_repo(tmp_path / "en_only")
    for korean in only_english.glob("course/*_ko"):
        shutil.rmtree(korean)
    export_student(only_english, tmp_path / "e", names=["01_computational_graphs"], edition="both")
    assert not (tmp_path / "e" / "README.ko.md").exists()
    assert "README.ko.md" not in (tmp_path / "e" / "README.md").read_text(encoding="utf-8")
    # An assignment named either way stands for both editions unless --edition says otherwise.
    export_student(clean_repo, tmp_path / "k", names=["02_chain_rule_ko"], edition="both")
    assert sorted(p.name for p in (tmp_path / "k" / "course").iterdir()) == ["02_chain_rule", "02_chain_rule_ko"]
    with pytest.raises(ExportError, match="no released assignment named 99_nothing"):
        export_student(clean_repo, tmp_path / "t", names=["99_nothing"])


def released_notebook(repo, name):
    return repo / "course" / name / f"{name}.ipynb"


def autosave_solved(repo, name):
    """What JupyterLab's autosave leaves in course/ after an instructor solves a notebook there: the answer code
    of solutions/ (without the ### markers) in each solution cell of the released notebook."""
    import nbformat

    solved = nbformat.read(repo / "solutions" / name / f"{name}.ipynb", as_version=4)
    answers = {c.metadata.nbgrader["grade_id"]: "\n".join(
        line for line in c.source.splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
        for c in solved.cells if c.metadata.get("nbgrader", {}).get("solution")}
    path = released_notebook(repo, name)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    nbformat.write(nb, path)


def answer_lines_in(tree):
    secret = secret_lines(sorted((REPO / "solutions").glob("*/*.ipynb")))
    return {path: secret & lines for path, lines in tree_lines(tree).items() if secret & lines} if tree.exists() else {}


def test_export_refuses_a_notebook_solved_and_autosaved_in_course(clean_repo, tmp_path):
    repo = repo_copy(clean_repo, tmp_path)
    autosave_solved(repo, TRIED)
    assert answer_lines_in(repo / "course"), "the simulated autosave put no answer into course/"
    dest = tmp_path / "student"
    with pytest.raises(ExportError) as refused:
        export_student(repo, dest)
    message = str(refused.value)
    assert f"course/{TRIED}/{TRIED}.ipynb" in message and f"bpcourse release {TRIED}" in message, message
    assert "by hand" in message and "nothing was exported" in message, message
    others = [p.name for p in (REPO / "course").iterdir() if p.is_dir() and p.name != TRIED]
    assert not any(name in message for name in others), f"clean notebooks were named too:\n{message}"
    assert not answer_lines_in(dest)


def test_export_refusal_leaves_an_existing_clone_alone(clean_repo, tmp_path):
    repo = repo_copy(clean_repo, tmp_path)
    autosave_solved(repo, TRIED)
    dest = tmp_path / "student"
    (dest / ".git").mkdir(parents=True)
    (dest / "old.txt").write_text("last week's export")
    with pytest.raises(ExportError, match=TRIED):
        export_student(repo, dest, overwrite=True, names=[TRIED])
    assert (dest / "old.txt").exists() and (dest / ".git").is_dir() and not answer_lines_in(dest)


def test_export_refuses_a_notebook_with_saved_outputs_in_course(clean_repo, tmp_path):
    """Outputs saved in course/ (a trial run, even of the stubs) are refused, not silently dropped: course/ must be
    what `bpcourse release` writes, and the export (made from a fresh release) would never carry them anyway."""
    import nbformat

    repo = repo_copy(clean_repo, tmp_path)
    path = released_notebook(repo, TRIED)
    nb = nbformat.read(path, as_version=4)
    code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells[code].outputs = [nbformat.v4.new_output("stream", name="stdout", text="trial run\n")]
    nb.cells[code].execution_count = 1
    nbformat.write(nb, path)
    with pytest.raises(ExportError) as refused:
        export_student(repo, tmp_path / "student", names=[TRIED])
    message = str(refused.value)
    assert f"course/{TRIED}/{TRIED}.ipynb: cells [{code}] have saved outputs" in message, message
    assert f"bpcourse release {TRIED}" in message
    assert not (tmp_path / "student").exists()


def test_export_checks_its_output_line_by_line_and_removes_it_on_a_leak(clean_repo, tmp_path):
    repo = repo_copy(clean_repo, tmp_path)
    answer = max(secret_lines(sorted((REPO / "solutions").glob("*/*.ipynb"))), key=lambda line: (len(line), line))
    postbuild = repo / "binder" / "postBuild"
    lines = postbuild.read_text().splitlines()
    postbuild.write_text("\n".join([*lines, answer]) + "\n")
    dest = tmp_path / "student"
    (dest / ".git").mkdir(parents=True)
    with pytest.raises(ExportError) as refused:
        export_student(repo, dest, names=[TRIED])
    message = str(refused.value)
    assert f"binder/postBuild line {len(lines) + 1}: {answer!r}" in message, message
    assert f"{dest} was emptied" in message
    assert [p.name for p in dest.iterdir()] == [".git"]


def test_export_refuses_a_course_folder_missing_its_notebook(clean_repo, tmp_path):
    """A notebook deleted from course/ is not silently skipped: course/ must hold the whole release."""
    repo = repo_copy(clean_repo, tmp_path)
    released_notebook(repo, TRIED).unlink()
    with pytest.raises(ExportError, match=rf"course/{TRIED}/{TRIED}.ipynb: missing"):
        export_student(repo, tmp_path / "student", names=[TRIED])


def test_export_refuses_a_destination_inside_the_repository():
    with pytest.raises(ExportError, match="inside the instructor repository"):
        export_student(REPO, REPO / "student-copy")


def test_cli_reports_refusal(tmp_path):
    (tmp_path / "x").write_text("occupied")
    result = subprocess.run([sys.executable, "-m", "bpcourse.cli", "--root", str(REPO), "export-student",
                             str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "not empty" in result.stderr


@pytest.mark.parametrize("which", ["instructor", "student"])
def test_repo2docker_renders_a_python_311_dockerfile(which, exported):
    r2d = shutil.which("jupyter-repo2docker", path=os.path.dirname(sys.executable))
    if r2d is None:
        pytest.skip("jupyter-repo2docker is not installed (pip install -e '.[test]')")
    target = REPO if which == "instructor" else exported
    result = subprocess.run([r2d, "--no-build", "--debug", str(target)], capture_output=True, text=True,
                            timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-2000:]
    assert "python=3.11" in out
    install = out.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    copy_all = re.search(r"COPY --chown=\S+ src/ \$\{REPO_DIR\}/", out)
    assert copy_all and install < copy_all.start(), "requirements must install before the content is copied"
    assert out.index("./binder/postBuild") > copy_all.start()


_RUN_NOTEBOOKS = r"""
import json, sys, pathlib, nbformat
from nbclient import NotebookClient
report = {}
for path in sorted(pathlib.Path("course").glob("*/*.ipynb")):
    if not (path.stem.endswith("_ko") or path.stem.startswith("01_")):
        continue  # each English notebook's code is its Korean twin's (tests/test_editions.py), run in test_notebooks
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    report[path.stem] = [
        {"grade": bool(c.metadata.get("nbgrader", {}).get("grade")), "id": c.get("id"), "outputs": len(c.outputs),
         "grade_id": c.metadata.get("nbgrader", {}).get("grade_id"),
         "errors": [o["ename"] + ": " + o["evalue"] for o in c.get("outputs", []) if o["output_type"] == "error"]}
        for c in nb.cells if c.cell_type == "code"]
print(json.dumps(report))
"""


@pytest.mark.slow
def test_export_installs_from_its_binder_files_and_runs(exported, tmp_path):
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {**os.environ, "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}", "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    if SHARED_MNIST.is_dir():
        env["BPCOURSE_DATA_DIR"] = str(SHARED_MNIST)

    def run(*cmd):
        result = subprocess.run(cmd, cwd=exported, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{' '.join(map(str, cmd))}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        return result.stdout

    run(py, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt")
    run("bash", "binder/postBuild")
    # Binder's base image brings the kernel; here we add it (and a runner) to execute the notebooks.
    run(py, "-m", "pip", "install", "-q", "ipykernel", "nbclient", "nbformat")
    assert "bpcourse" in run(py, "-c", "import bpcourse, os; print(os.path.dirname(bpcourse.__file__))")
    for absent in ("grader_tests", "bpcourse_instructor", "nbgrader", "dask"):  # no instructor half, no extras
        with pytest.raises(AssertionError, match="ModuleNotFoundError"):
            run(py, "-c", f"import {absent}")
    # Every student module imports in this environment (a new one is picked up by the walk).
    imported = run(py, "-c", "import importlib, pkgutil, bpcourse; names = [m.name for m in "
                   "pkgutil.iter_modules(bpcourse.__path__)]; [importlib.import_module('bpcourse.' + n) for n in "
                   "names]; print(' '.join(sorted(names)))").split()
    assert {"data", "gradcheck", "graphplot", "widgets", "cli"} <= set(imported), imported
    # The instructor's command says, in one line, that it is not for here.
    graded = subprocess.run([env_dir / "bin" / "bpcourse", "grade", "01_computational_graphs"], cwd=exported,
                            env=env, capture_output=True, text=True, timeout=60)
    assert graded.returncode == 2 and graded.stdout == "", graded
    assert len(graded.stderr.strip().splitlines()) == 1 and "instructor" in graded.stderr, graded.stderr
    # The Korean messages are package data of bpcourse: the student's install has them.
    assert int(run(py, "-c", "from bpcourse.i18n import catalogue; print(len(catalogue('ko')))")) > 150
    report = json.loads(run(py, "-c", _RUN_NOTEBOOKS).strip().splitlines()[-1])
    assert set(report) == {p.name for p in (REPO / "course").iterdir()
                           if p.is_dir() and (p.name.endswith("_ko") or p.name.startswith("01_"))}
    for name, cells in report.items():
        # The Colab set-up cell ran first, in a real kernel outside Colab: no error, not a line printed.
        assert cells[0]["id"] == SETUP_CELL_ID and cells[0]["outputs"] == 0, f"{name}: {cells[0]}"
        if name in NEEDS_MNIST and "BPCOURSE_DATA_DIR" not in env:
            continue  # its loading cell stops with the "MNIST is not available" message
        planted = planted_checks(name)
        for cell in cells:
            if cell["grade"]:  # on a stub, or (a planted bug to find) on the bug its check catches
                kind = "AssertionError" if cell["grade_id"] in planted else "NotImplementedError"
                assert any(e.startswith(kind) for e in cell["errors"]), \
                    f"{name}: graded cell {cell['grade_id']} does not fail with {kind} in the student release: " \
                    f"{cell['errors']}"
            else:
                assert not cell["errors"], f"{name}: a non-test cell fails in the student release: {cell['errors']}"


GRADED = "03_add_mul_nodes"  # a quick notebook to grade


@pytest.mark.slow
def test_a_hand_in_made_from_the_exported_notebook_is_graded(clean_repo, exported, tmp_path, monkeypatch):
    """`bpcourse grade` (nbgrader's autograde behind our staging) takes a notebook that starts with the Colab
    set-up cell as it is: no repair, full marks when solved (even carrying the output Colab left in that cell),
    zero when blank; the set-up cell runs as an ordinary cell and does nothing in the grading kernel."""
    import nbformat

    from bpcourse_instructor.course import release
    from bpcourse_instructor.grading import grade

    root = repo_copy(clean_repo, tmp_path)
    release(root, [GRADED])  # into the gradebook, as an instructor does
    blank = nbformat.read(released_notebook(exported, GRADED), as_version=4)
    solved = nbformat.read(root / "solutions" / GRADED / f"{GRADED}.ipynb", as_version=4)
    answers = {c.metadata.nbgrader["grade_id"]: c.source for c in solved.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    full = nbformat.read(released_notebook(exported, GRADED), as_version=4)
    for cell in full.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "\n".join(line for line in answers[grade_id].splitlines() if "### " not in line)
    full.cells[0].outputs = [nbformat.v4.new_output(
        "stream", name="stdout", text=f"Colab setup: installed bpcourse @ git+https://github.com/{STUDENT_REPO}; "
                                      "widgets enabled.\n")]
    full.cells[0].execution_count = 1
    for student, nb in {"colab_full": full, "exported_blank": blank}.items():
        folder = root / "submitted" / student / GRADED
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{GRADED}.ipynb")
    monkeypatch.chdir(root)
    outcomes = {o.student: o for o in grade(root, GRADED, workers=2, progress=False)}
    for student, o in outcomes.items():
        assert not o.problem and o.changes == [], f"{student}: {o.problem or o.changes}"
    assert outcomes["colab_full"].max_score > 0 and outcomes["colab_full"].score == outcomes["colab_full"].max_score
    assert outcomes["exported_blank"].score == 0
    for student in outcomes:
        graded = nbformat.read(root / "autograded" / student / GRADED / f"{GRADED}.ipynb", as_version=4)
        setup = graded.cells[0]
        assert setup.id == SETUP_CELL_ID and "nbgrader" not in setup.metadata, student
        assert setup.execution_count is not None and setup.outputs == [], f"{student}: {setup.outputs}"
