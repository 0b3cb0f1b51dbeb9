"""The student repository: ``bpcourse export-student`` (see :func:`export_student`).

It is written from a fresh nbgrader release of solutions/, holds no answer (checked line by line before it is
reported written), and offers three ways in: Binder (one badge for the repository), Google Colab (a badge per
notebook; each exported notebook starts with a cell that, in Colab only, installs ``bpcourse`` from this
repository and turns on Colab's widget support) and the student's own computer.
"""

from __future__ import annotations

import re
from pathlib import Path

from .colab import (  # noqa: F401
    README_TEMPLATE,
    SETUP_CELL_ID,
    _cells,
    _source,
    add_setup_cell,
    check_names,
    colab_setup_source,
    readmes,
    student_readme,
)
from .course import RELEASE, SOURCE, assignments, release
from .editions import language_of


class ExportError(RuntimeError):
    """The student tree could not be written (the message says why and what to do)."""


# What students get. Everything else (solutions/, grader_tests/, tests/, gradebook.db ...) stays behind.
STUDENT_TREE = ["course", "bpcourse", "binder", "LICENSE", "pyproject.toml"]
_SECRET_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "grader_tests",
                   "bpcourse_instructor")


_DATA = "tool.setuptools.package-data"
_TABLE = re.compile(r"^\[\[?\s*([A-Za-z0-9_.\-]+)\s*\]\]?\s*(#.*)?$")


def _student_pyproject(path: Path) -> None:
    """The student's pyproject.toml: the bpcourse package alone, no instructor or test extras (the export has
    neither the instructor half nor the tests), and of the [tool.*] tables only setuptools' package list and
    bpcourse's package data (its message catalogues); the project's pytest and ruff settings and the instructor's
    package data are for the instructor repository. Checked by parsing the result."""
    import tomllib

    lines, kept = path.read_text(encoding="utf-8").splitlines(keepends=True), []
    skipping = tool = data = False
    for line in lines:
        table = _TABLE.match(line.strip())
        if table:
            name = table.group(1)
            data = name == _DATA
            tool = name.startswith("tool.") and name not in ("tool.setuptools.packages.find", _DATA)
        if tool or (data and not table and not line.startswith(("bpcourse =", "# bpcourse:", "\n"))):
            continue
        if line.startswith("# What an instructor needs"):
            skipping = True  # the instructor and test extras, up to the end of the test list
        elif skipping and line.startswith("]"):
            skipping = False
            continue
        if skipping or "ship only in the instructor repository" in line:
            continue
        kept.append('include = ["bpcourse*"]\n' if line.startswith("include = [") else line)
    text = "".join(kept).rstrip("\n") + "\n"
    meta = tomllib.loads(text)
    if (meta["tool"]["setuptools"]["packages"]["find"]["include"] != ["bpcourse*"]
            or set(meta["project"].get("optional-dependencies", {})) - {"course", "ko"}
            or set(meta["tool"]["setuptools"].get("package-data", {})) - {"bpcourse"}
            or any(dep.startswith(("nbgrader", "nbclient", "dask")) for dep in meta["project"]["dependencies"])
            or "grader_tests" in text or "bpcourse_instructor" in text):
        raise ExportError("pyproject.toml changed shape: update _student_pyproject so the student's copy names "
                          "only the bpcourse package")
    path.write_text(text, encoding="utf-8")


# Left out of every copy: caches and JupyterLab's checkpoints (the student README is written from its template).
_JUNK = ("__pycache__", "*.pyc", ".ipynb_checkpoints")
# Region markers in solutions/: what nbgrader removes from the release.
_REGIONS = (("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
# A region line shorter than this, a comment, a bare keyword (`else:`) or lone punctuation is no answer.
_MIN_SECRET = 8
_GENERIC = re.compile(r"^([A-Za-z_]+:?|[()\[\]{},:;.]*)$")


def _files(folder: Path) -> dict[str, Path]:
    """The files under ``folder`` by relative path, without caches and checkpoints."""
    import fnmatch

    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()
            and not any(fnmatch.fnmatch(part, pattern) for part in p.relative_to(folder).parts for pattern in _JUNK)}


# --- 1. a fresh release, and what course/ has that it does not -----------------------------------------------

def _fresh_release(root: Path, names: list[str], scratch: Path) -> Path:
    """Release ``names`` from solutions/ with nbgrader into the scratch course root ``scratch`` (no gradebook);
    returns the scratch course/ folder."""
    import shutil

    shutil.copy2(root / "nbgrader_config.py", scratch / "nbgrader_config.py")
    for name in names:
        if not (root / SOURCE / name).is_dir():
            raise ExportError(f"course/{name} has no source folder {SOURCE}/{name}, so it cannot be released "
                              f"afresh: add its notebook to {SOURCE}/ and run `bpcourse release {name}`, or leave "
                              "it out with --assignment")
        shutil.copytree(root / SOURCE / name, scratch / SOURCE / name, ignore=shutil.ignore_patterns(*_JUNK))
    try:
        release(scratch, names, use_db=False)
    except RuntimeError as exc:
        raise ExportError(f"nbgrader could not release {SOURCE}/ afresh, so nothing was exported; fix the notebook "
                          f"it names in {SOURCE}/ and export again:\n{exc}") from exc
    return scratch / RELEASE


def _cell_key(cell: dict) -> tuple:
    """What must match nbgrader's output (as tests/test_notebooks.py compares): type, source, nbgrader marks."""
    return cell.get("cell_type"), _source(cell), cell.get("metadata", {}).get("nbgrader")


def _saved_outputs(cells: list[dict]) -> list[int]:
    return [i for i, cell in enumerate(cells) if cell.get("outputs") or cell.get("execution_count") is not None]


def _notebook_differences(committed: Path, fresh: Path) -> list[str]:
    """How the notebook in course/ differs from nbgrader's fresh output (outputs count: they were saved there)."""
    try:
        mine = _cells(committed)
    except (ValueError, KeyError, UnicodeDecodeError):
        return ["is not notebook JSON"]
    theirs, problems = _cells(fresh), []
    if len(mine) != len(theirs):
        problems.append(f"has {len(mine)} cells where nbgrader makes {len(theirs)}")
    else:
        changed = [i for i, (a, b) in enumerate(zip(mine, theirs)) if _cell_key(a) != _cell_key(b)]
        if changed:
            problems.append(f"cells {changed} differ from what nbgrader makes of {SOURCE}/ (source, type or marks)")
    saved = _saved_outputs(mine)
    if saved:
        problems.append(f"cells {saved} have saved outputs")
    return problems


def _release_differences(course: Path, fresh: Path, names: list[str]) -> dict[str, list[str]]:
    """For each assignment whose folder in course/ is not exactly the fresh release: what differs, file by file."""
    found = {}
    for name in names:
        mine, theirs, problems = _files(course / name), _files(fresh / name), []
        for rel in sorted(mine.keys() | theirs.keys()):
            label = f"{RELEASE}/{name}/{rel}"
            if rel not in theirs:
                problems.append(f"{label}: not made by nbgrader from {SOURCE}/{name}")
            elif rel not in mine:
                problems.append(f"{label}: missing")
            elif rel.endswith(".ipynb"):
                problems += [f"{label}: {p}" for p in _notebook_differences(mine[rel], theirs[rel])]
            elif mine[rel].read_bytes() != theirs[rel].read_bytes():
                problems.append(f"{label}: differs from {SOURCE}/{name}/{rel}")
        if problems:
            found[name] = problems
    return found


def _stale_release_error(found: dict[str, list[str]]) -> ExportError:
    listing = "\n".join(f"  {problem}" for problems in found.values() for problem in problems)
    return ExportError(
        f"course/ is not what nbgrader makes of {SOURCE}/ (was a notebook in course/ opened and saved?); nothing "
        f"was exported:\n{listing}\nRun `bpcourse release {' '.join(found)}` to regenerate it from {SOURCE}/, then "
        f"export again. Don't edit course/ by hand: a change meant for students goes into {SOURCE}/ first.")


# --- 2. the export checked line by line against solutions/ ---------------------------------------------------

def _split_regions(source: str) -> tuple[set[str], set[str]]:
    """(stripped lines inside solution and hidden-test regions, stripped lines outside them) of one cell."""
    inside_lines, outside_lines, inside = set(), set(), False
    for line in source.splitlines():
        if any(begin in line for begin, _ in _REGIONS):
            inside = True
        elif any(end in line for _, end in _REGIONS):
            inside = False
        else:
            (inside_lines if inside else outside_lines).add(line.strip())
    return inside_lines, outside_lines


def _meaningful(line: str) -> bool:
    return len(line) >= _MIN_SECRET and not line.startswith("#") and not _GENERIC.match(line)


def _secrets(root: Path) -> tuple[set[str], dict[str, set[str]]]:
    """Every meaningful line of a solution or hidden-test region in solutions/ (all assignments), and for each
    assignment the lines its source notebooks show openly (notebook 07 openly hands out the 04-06 layers)."""
    secret, shown = set(), {}
    for name in assignments(root):
        shown[name] = set()
        for path in sorted((root / SOURCE / name).glob("*.ipynb")):
            for cell in _cells(path):
                inside_lines, outside_lines = _split_regions(_source(cell))
                secret |= {line for line in inside_lines if _meaningful(line)}
                shown[name] |= outside_lines
    return secret, shown


def _numbered_lines(path: Path) -> list[tuple[str, str]]:
    """(where, line) for every line of a file; a notebook's lines are its cells' sources ("cell 3, line 2")."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return [(f"line {n}", line) for n, line in enumerate(text.splitlines(), 1)]
    return [(f"cell {i}, line {n}", line) for i, cell in enumerate(_cells(path))
            for n, line in enumerate(_source(cell).splitlines(), 1)]


def _leaks(dest: Path, written: list[Path], secret: set[str], shown: dict[str, set[str]]) -> list[str]:
    """Each line of an exported file (bpcourse/ aside: library code may share a line with an answer) that is a
    solution or hidden-test line, or a marker; and each exported notebook cell with outputs."""
    shown_anywhere = set().union(*shown.values())
    found = []
    for path in written:
        rel = path.relative_to(dest)
        if rel.parts[0] == "bpcourse":
            continue
        is_release = rel.parts[0] == RELEASE and path.suffix == ".ipynb"
        forbidden = secret - (shown.get(rel.parts[1], set()) if is_release else shown_anywhere)
        for where, line in _numbered_lines(path):
            if line.strip() in forbidden or any(m in line for m in _SECRET_MARKERS):
                found.append(f"{rel} {where}: {line.strip()!r}")
        if path.suffix == ".ipynb":
            found += [f"{rel} cell {i}: has saved outputs" for i in _saved_outputs(_cells(path))]
    return found


def _leak_error(dest: Path, found: list[str]) -> ExportError:
    listing = "\n".join(f"  {leak}" for leak in found[:10])
    more = f"\n  ... and {len(found) - 10} more" if len(found) > 10 else ""
    return ExportError(
        f"the export held {len(found)} solution or hidden-test line(s), or notebook cells with outputs, so {dest} "
        f"was emptied (its .git kept):\n{listing}{more}\nRemove them from the file named in the instructor "
        f"repository (for course/: check the ### BEGIN/END markers in {SOURCE}/, then run `bpcourse release`), "
        "then export again.")


# --- the export ------------------------------------------------------------------------------------------------

def _clear(dest: Path) -> None:
    """Remove everything in ``dest`` but ``.git``."""
    import shutil

    for p in dest.iterdir():
        if p.name != ".git":
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def _write_tree(root: Path, fresh: Path, dest: Path, names: list[str], repo: str, branch: str,
                edition: str = "both") -> list[Path]:
    """Copy the fresh release of ``names`` (each notebook with the Colab set-up cell first) and the rest of
    STUDENT_TREE to ``dest``, and write the student README; returns the files written."""
    import shutil

    junk = shutil.ignore_patterns(*_JUNK, "README.student*.md")
    for name in STUDENT_TREE:
        src = root / name
        if name == RELEASE:
            for assignment in names:
                shutil.copytree(fresh / assignment, dest / name / assignment, ignore=junk)
                for notebook in sorted((dest / name / assignment).glob("*.ipynb")):
                    try:
                        add_setup_cell(notebook, repo, branch)
                    except ValueError as exc:
                        raise ExportError(str(exc)) from None
        elif src.is_dir():
            shutil.copytree(src, dest / name, ignore=junk)
        else:
            shutil.copy2(src, dest / name)
    _student_pyproject(dest / "pyproject.toml")
    # The editions actually exported (asking for both with only English released writes English alone).
    present = {language_of(root, n) for n in names}
    edition = "both" if present == {"en", "ko"} else present.pop()
    for language, filename in readmes(edition):
        template = (root / "binder" / README_TEMPLATE[language]).read_text(encoding="utf-8")
        text = student_readme(template, dest / RELEASE, [n for n in names if language_of(root, n) == language],
                              repo, branch, language)
        if edition != "both":  # no README.ko.md to point to
            text = "".join(line for line in text.splitlines(keepends=True) if "README.ko.md" not in line)
        (dest / filename).write_text(text, encoding="utf-8")
    return sorted(p for p in dest.rglob("*") if p.is_file() and ".git" not in p.relative_to(dest).parts)


def export_student(root: Path, dest: Path, *, overwrite: bool = False, repo: str = "OWNER/REPO",
                   names: list[str] | None = None, branch: str = "main", edition: str = "both") -> list[Path]:
    """Write the student-facing tree to ``dest``; returns the files written.

    ``edition`` ("en", "ko" or "both"): which editions of the notebooks the students get. README.md is in the
    language of the edition (English for both), and with both, README.ko.md is the Korean one.

    ``names`` limits course/ to the assignments released so far (default: every folder in course/). ``repo``
    (owner/name on GitHub) and ``branch`` are where the export will be pushed: the README's Binder badge and
    Colab links point there, and each notebook's Colab set-up cell installs ``bpcourse`` from there.

    The notebooks come from a fresh nbgrader release of solutions/ made in a temporary folder, never from
    course/ itself, and course/ must equal that release: a notebook in course/ whose cells (type, source,
    nbgrader marks) differ, or that has saved outputs (JupyterLab's autosave after a trial run), is refused
    with an ExportError naming it and asking for `bpcourse release`; nothing is written then. Before returning,
    every exported file outside bpcourse/ (the set-up cells and the README included) is checked line by line
    against the solution and hidden-test regions of solutions/, and every exported notebook for outputs; on a
    find ``dest`` is emptied and ExportError names the file and line.

    A non-empty ``dest`` is refused unless ``overwrite``; then everything in it but ``.git`` is replaced,
    so ``dest`` can be a clone of the public repository that Binder launches.
    """
    import tempfile

    try:
        check_names(repo, branch)
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    root, dest = Path(root).resolve(), Path(dest).resolve()
    if dest == root or root in dest.parents:
        raise ExportError(f"destination {dest} is inside the instructor repository; choose a folder outside it")
    missing = [name for name in [*STUDENT_TREE, SOURCE, "nbgrader_config.py"] if not (root / name).exists()]
    if missing:
        raise ExportError(f"{root} has no {', '.join(missing)}: run this from the course repository")
    released = sorted(p.name for p in (root / RELEASE).iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = sorted(set(names or ()) - set(released))
    if unknown:
        raise ExportError(f"no released assignment named {', '.join(unknown)}; course/ has {', '.join(released)}")
    if dest.exists() and any(p.name != ".git" for p in dest.iterdir()) and not overwrite:
        raise ExportError(f"{dest} is not empty; pass --overwrite to replace its contents (.git is kept)")
    from .editions import expand

    asked = list(dict.fromkeys(names or []))
    names = expand(asked, released, edition)
    if not names:
        raise ExportError(f"course/ has no {edition} edition of {', '.join(asked) or 'any assignment'}: run "
                          f"`bpcourse release --edition {edition}` first")

    with tempfile.TemporaryDirectory(prefix="bpcourse-export-") as scratch:
        fresh = _fresh_release(root, names, Path(scratch))
        stale = _release_differences(root / RELEASE, fresh, names)
        if stale:
            raise _stale_release_error(stale)
        dest.mkdir(parents=True, exist_ok=True)
        _clear(dest)
        written = _write_tree(root, fresh, dest, names, repo, branch, edition)

    secret, shown = _secrets(root)
    leaks = _leaks(dest, written, secret, shown)
    if leaks:
        _clear(dest)
        raise _leak_error(dest, leaks)
    return written
