"""The student-facing tree: exported without answers, renderable by repo2docker, installable and runnable."""

import json
import os
import re
import shutil
import subprocess
import sys
import venv

import pytest

from bpcourse_instructor.course import ExportError, export_student
from conftest import NEEDS_MNIST, REPO, SHARED_MNIST
from nbrun import secret_lines, tree_lines


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    dest = tmp_path_factory.mktemp("student") / "backprop-student"
    export_student(REPO, dest, repo="someone/backprop")
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


def test_export_refuses_a_non_empty_destination_unless_told(tmp_path):
    dest = tmp_path / "student"
    (dest / ".git").mkdir(parents=True)
    (dest / "old.txt").write_text("stale")
    with pytest.raises(ExportError, match="not empty; pass --overwrite"):
        export_student(REPO, dest)
    assert (dest / "old.txt").exists()  # nothing lost on refusal
    export_student(REPO, dest, overwrite=True)
    assert not (dest / "old.txt").exists() and (dest / ".git").is_dir() and (dest / "course").is_dir()


def test_export_can_hold_only_the_assignments_released_so_far(tmp_path):
    export_student(REPO, tmp_path / "s", names=["01_computational_graphs", "02_chain_rule"])
    assert sorted(p.name for p in (tmp_path / "s" / "course").iterdir()) == ["01_computational_graphs",
                                                                            "02_chain_rule"]
    with pytest.raises(ExportError, match="no released assignment named 99_nothing"):
        export_student(REPO, tmp_path / "t", names=["99_nothing"])


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
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    report[path.stem] = [
        {"grade": bool(c.metadata.get("nbgrader", {}).get("grade")),
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
    report = json.loads(run(py, "-c", _RUN_NOTEBOOKS).strip().splitlines()[-1])
    assert set(report) == {p.name for p in (REPO / "course").iterdir() if p.is_dir()}
    for name, cells in report.items():
        if name in NEEDS_MNIST and "BPCOURSE_DATA_DIR" not in env:
            continue  # its loading cell stops with the "MNIST is not available" message
        for cell in cells:
            if cell["grade"]:
                assert any("NotImplementedError" in e for e in cell["errors"]), \
                    f"{name}: a graded cell does not fail on the stub in the student release: {cell['errors']}"
            else:
                assert not cell["errors"], f"{name}: a non-test cell fails in the student release: {cell['errors']}"
