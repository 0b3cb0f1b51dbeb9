"""Instructor tools built on nbgrader's own API (imported lazily: students never need nbgrader)."""

from __future__ import annotations

from pathlib import Path

SOURCE = "solutions"
RELEASE = "course"


def assignments(root: Path) -> list[str]:
    """Assignment names, in course order: one folder per assignment under solutions/."""
    return sorted(p.name for p in (Path(root) / SOURCE).iterdir()
                  if p.is_dir() and not p.name.startswith((".", "_")))


def nbgrader_api(root: Path, **overrides):
    """An NbGraderAPI for the course at ``root``, reading its nbgrader_config.py."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(root).resolve()
    config = Config()
    if (root / "nbgrader_config.py").exists():
        config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    for section, values in overrides.items():
        for key, value in values.items():
            setattr(getattr(config, section), key, value)
    return NbGraderAPI(config=config)


def release(root: Path, names: list[str] | None = None, *, use_db: bool = True) -> None:
    """Regenerate course/ from solutions/ with nbgrader (all assignments unless ``names`` given)."""
    overrides = {} if use_db else {"GenerateAssignment": {"no_database": True}, "SaveCells": {"enabled": False}}
    api = nbgrader_api(root, **overrides)
    for name in names or assignments(root):
        result = api.generate_assignment(name, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not generate {name}:\n{result.get('log', '')}\n{result.get('error', '')}")


class ExportError(RuntimeError):
    """The student tree could not be written (the message says why and what to do)."""


# What students get. Everything else (solutions/, grader_tests/, tests/, gradebook.db ...) stays behind.
STUDENT_TREE = ["course", "bpcourse", "binder", "LICENSE", "pyproject.toml"]
BINDER_URL = "https://mybinder.org/v2/gh/{repo}/HEAD?urlpath=lab/tree/course/01_computational_graphs/01_computational_graphs.ipynb"
_SECRET_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "grader_tests",
                   "bpcourse_instructor")


def _student_pyproject(path: Path) -> None:
    """The student's pyproject.toml: the bpcourse package alone, no instructor or test extras (the export has
    neither the instructor half nor the tests). Checked by parsing the result."""
    import tomllib

    lines, kept, skipping = path.read_text(encoding="utf-8").splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith("# What an instructor needs"):
            skipping = True  # the instructor and test extras, up to the end of the test list
        elif skipping and line.startswith("]"):
            skipping = False
            continue
        if skipping or "ship only in the instructor repository" in line:
            continue
        kept.append('include = ["bpcourse*"]\n' if line.startswith("include = [") else line)
    text = "".join(kept)
    meta = tomllib.loads(text)
    if (meta["tool"]["setuptools"]["packages"]["find"]["include"] != ["bpcourse*"]
            or set(meta["project"].get("optional-dependencies", {})) - {"course"}
            or any(dep.startswith(("nbgrader", "nbclient", "dask")) for dep in meta["project"]["dependencies"])
            or "grader_tests" in text or "bpcourse_instructor" in text):
        raise ExportError("pyproject.toml changed shape: update _student_pyproject so the student's copy names "
                          "only the bpcourse package")
    path.write_text(text, encoding="utf-8")


def export_student(root: Path, dest: Path, *, overwrite: bool = False, repo: str = "OWNER/REPO",
                   names: list[str] | None = None) -> list[Path]:
    """Write the student-facing tree to ``dest``; returns the files written.

    ``names`` limits course/ to the assignments released so far (default: all of them).

    A non-empty ``dest`` is refused unless ``overwrite``; then everything in it but ``.git`` is replaced,
    so ``dest`` can be a clone of the public repository that Binder launches.
    """
    import shutil

    root, dest = Path(root).resolve(), Path(dest).resolve()
    if dest == root or root in dest.parents:
        raise ExportError(f"destination {dest} is inside the instructor repository; choose a folder outside it")
    missing = [name for name in STUDENT_TREE if not (root / name).exists()]
    if missing:
        raise ExportError(f"{root} has no {', '.join(missing)}: run this from the course repository")
    released = sorted(p.name for p in (root / RELEASE).iterdir() if p.is_dir())
    unknown = sorted(set(names or ()) - set(released))
    if unknown:
        raise ExportError(f"no released assignment named {', '.join(unknown)}; course/ has {', '.join(released)}")
    if dest.exists() and any(p.name != ".git" for p in dest.iterdir()):
        if not overwrite:
            raise ExportError(f"{dest} is not empty; pass --overwrite to replace its contents (.git is kept)")
        for p in dest.iterdir():
            if p.name != ".git":
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    dest.mkdir(parents=True, exist_ok=True)

    junk = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "README.student.md")
    for name in STUDENT_TREE:
        src = root / name
        if name == RELEASE:
            for assignment in names or released:
                shutil.copytree(src / assignment, dest / name / assignment, ignore=junk)
        elif src.is_dir():
            shutil.copytree(src, dest / name, ignore=junk)
        else:
            shutil.copy2(src, dest / name)
    _student_pyproject(dest / "pyproject.toml")
    readme = (root / "binder" / "README.student.md").read_text(encoding="utf-8")
    (dest / "README.md").write_text(readme.replace("{binder_url}", BINDER_URL.format(repo=repo)), encoding="utf-8")

    written = sorted(p for p in dest.rglob("*") if p.is_file() and ".git" not in p.relative_to(dest).parts)
    for path in written:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.parent.name != "bpcourse" and any(m in text for m in _SECRET_MARKERS):
            raise ExportError(f"{path.relative_to(dest)} contains solution or hidden-test text; "
                              "regenerate course/ with `bpcourse release` before exporting")
    return written
