"""Staging: the copy of each submission that ``bpcourse grade`` grades (``submitted/`` is never modified).

Only plain files reach the grader. A hand-in folder is walked without following anything: regular files
and folders are copied, while symbolic links, named pipes, sockets and devices are left out and reported
(a link could point at the instructor's ``solutions/`` or a classmate's work, a pipe could block the
run). A notebook that is itself such a thing, or too large, or not notebook JSON, is refused with the
reason; everyone else is graded.

The release is the authority on nbgrader's metadata: cells the release has get its metadata back (a test
cell re-marked as a solution, changed points, a changed cell type), grading marks on cells it does not
have are removed, duplicated ``grade_id``\\s keep one graded copy, and deleted test or locked cells are put
back. Each repair is reported twice: to the instructor in the summary, and to the student in a note at
the top of the graded notebook, which nbgrader's feedback shows; both in the language of the release's edition,
since the summary's line for the student is in it too. Markdown and raw cells the student wrote are
made inert (no HTML tags, no script links): the formgrader shows them in the instructor's browser.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from bpcourse.i18n import N_, translate

from .course import RELEASE
from .editions import language_of_notebook

STAGED = os.path.join("build", "grading", "submitted")  # nbgrader's "submitted" step for this command
MAX_NOTEBOOK = 50 * 1024 ** 2   # bytes: a course notebook with outputs is well under 5 MB
MAX_EXTRA = 100 * 1024 ** 2     # bytes of other files copied with a notebook (a student's own data, images)
MAX_FILES = 1000                # other files copied with a notebook
NOTE_TAG = "bpcourse-grader-note"  # cell metadata marking the note added for the student


class Unreadable(Exception):
    """The submission cannot be graded; the message says why, for the instructor."""


@dataclass
class Repair:
    """One thing changed or left out: in the instructor's words (summary) and the student's (feedback), both in the
    language of the edition the student worked in."""

    summary: str
    student: str


# ---------------------------------------------------------------- nbgrader metadata

def _meta(cell) -> dict:
    meta = cell.get("metadata")
    m = meta.get("nbgrader") if isinstance(meta, dict) else None
    return m if isinstance(m, dict) else {}


def _gid(cell):
    gid = _meta(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def _strip(cell) -> None:
    if isinstance(cell.get("metadata"), dict):
        cell.metadata.pop("nbgrader", None)


def _restorable(cell) -> bool:
    """Cells nbgrader owns and a student cannot usefully change: graded tests and locked given code."""
    m = _meta(cell)
    return bool(_gid(cell)) and not m.get("solution") and bool(m.get("grade") or m.get("locked"))


def _set_type(cell, cell_type: str) -> None:
    cell.cell_type = cell_type
    if cell_type == "code":
        cell.outputs, cell.execution_count = [], None
        cell.pop("attachments", None)
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


_KEYS = ("grade", "solution", "locked", "points", "cell_type", "task")


def _differences(mine: dict, theirs: dict) -> list[str]:
    return [f"{k}: {mine.get(k)!r} -> {theirs.get(k)!r}" for k in _KEYS if mine.get(k) != theirs.get(k)]


# A cell marked for grading that the release does not have, by (has a grade_id, has points).
_UNKNOWN = {(True, True): N_("A cell named {gid!r} was marked for grading (with {points} points), but the handed-out "
                             "notebook has no such graded cell. It was graded as an ordinary cell."),
            (True, False): N_("A cell named {gid!r} was marked for grading, but the handed-out notebook has no such "
                              "graded cell. It was graded as an ordinary cell."),
            (False, True): N_("A cell was marked for grading (with {points} points), but the handed-out notebook has "
                              "no such graded cell. It was graded as an ordinary cell."),
            (False, False): N_("A cell was marked for grading, but the handed-out notebook has no such graded cell. "
                               "It was graded as an ordinary cell.")}


def _restore_metadata(nb: NotebookNode, released: NotebookNode, language: str = "en") -> list[Repair]:
    """Give every cell the release's nbgrader metadata for its grade_id; strip marks the release lacks."""
    repairs = []
    authority = {_gid(c): c for c in released.cells if _gid(c)}
    for cell in nb.cells:
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = NotebookNode()
        if "nbgrader" not in cell.metadata:
            continue
        gid = _gid(cell)
        ref = authority.get(gid)
        if ref is None:
            points = _meta(cell).get("points")
            _strip(cell)
            summary = (translate("cell {gid!r} carried grading marks the release does not have; removed", language,
                                 gid=gid) if gid else
                       translate("cell without a name carried grading marks the release does not have; removed",
                                 language))
            repairs.append(Repair(summary, translate(_UNKNOWN[bool(gid), bool(points)], language, gid=gid,
                                                     points=points)))
            continue
        mine, theirs = _meta(cell), _meta(ref)
        changed = _differences(mine, theirs)
        if ref.cell_type != cell.get("cell_type"):
            changed.append(translate("cell type: {mine} -> {theirs}", language, mine=cell.get("cell_type"),
                                     theirs=ref.cell_type))
            _set_type(cell, ref.cell_type)
        cell.metadata["nbgrader"] = copy.deepcopy(theirs)
        if changed:
            repairs.append(Repair(
                translate("cell {gid!r} had edited grading metadata ({changes}); restored from the release", language,
                          gid=gid, changes="; ".join(changed)),
                translate("The grading settings of cell {gid!r} had been changed ({changes}). They were set back to "
                          "those of the handed-out notebook, so the cell was graded as intended.", language,
                          gid=gid, changes="; ".join(changed))))
    return repairs


def sanitise(nb: NotebookNode, released: NotebookNode) -> list[Repair]:
    """Repair ``nb`` in place so nbgrader can grade it as the release intends; returns what was changed.

    Duplicated ``grade_id``: of a solution cell the *last* copy stays graded (it is the definition in force
    when the notebook runs top to bottom, so the manual grader sees the code the tests saw); of a test or locked
    cell the *first* (nbgrader overwrites its contents anyway). The other copies lose their nbgrader metadata
    and still run as plain cells. Deleted test and locked cells are re-inserted from the release after the
    nearest preceding nbgrader cell; deleted solution cells are not (the student may have moved the code).
    The repairs are told in the language of the release's edition.
    """
    language = language_of_notebook(released)
    repairs = []
    seen: dict[str, list[int]] = {}
    for i, cell in enumerate(nb.cells):
        if _gid(cell):
            seen.setdefault(_gid(cell), []).append(i)
    for gid, where in seen.items():
        if len(where) > 1:
            keep = where[-1] if _meta(nb.cells[where[-1]]).get("solution") else where[0]
            for i in where:
                if i != keep:
                    _strip(nb.cells[i])
            repairs.append(Repair(
                translate("cell {gid!r} appeared {times} times; kept copy {kept} graded", language,
                          gid=gid, times=len(where), kept=where.index(keep) + 1),
                translate("Cell {gid!r} appears {times} times in your notebook (a copied cell?). Copy {kept} was "
                          "graded; the others ran as ordinary cells.", language,
                          gid=gid, times=len(where), kept=where.index(keep) + 1)))
    repairs += _restore_metadata(nb, released, language)

    present = {_gid(c): c for c in nb.cells if _gid(c)}
    anchor = None  # grade_id of the last release cell found in the submission
    for cell in released.cells:
        gid = _gid(cell)
        if not gid:
            continue
        if gid not in present and _restorable(cell):
            ids = [_gid(c) for c in nb.cells]
            at = ids.index(anchor) + 1 if anchor in ids else 0
            restored = copy.deepcopy(cell)
            if restored.cell_type == "code":
                restored.outputs, restored.execution_count = [], None
            nb.cells.insert(at, restored)
            present[gid] = restored
            repairs.append(Repair(
                translate("cell {gid!r} was deleted; restored from the release", language, gid=gid),
                translate("Cell {gid!r} of the handed-out notebook was missing (deleted?). It was put back and run.",
                          language, gid=gid)))
        if gid in present:
            anchor = gid
    return repairs


_SCHEMES = re.compile(r"(java|vb)script\s*:", re.IGNORECASE)


def inert_text(text: str) -> str:
    """Markdown that renders as the student wrote it, but with no HTML tag and no script link in it."""
    return _SCHEMES.sub(lambda m: m.group(1) + "script-", str(text).replace("<", "&lt;"))


def inert_cells(nb: NotebookNode, released: NotebookNode) -> None:
    """Markdown and raw cells the release does not have are shown as text, never as HTML: nbgrader's
    feedback and formgrader pages render Markdown without sanitising it, in the instructor's origin."""
    trusted = {c.source for c in released.cells if c.cell_type in ("markdown", "raw")}
    for cell in nb.cells:
        if cell.get("cell_type") in ("markdown", "raw") and cell.get("source") not in trusted:
            cell.source = inert_text(cell.get("source", ""))
            if cell.cell_type == "raw":
                cell.metadata.pop("format", None)
                cell.metadata.pop("raw_mimetype", None)


def add_note(nb: NotebookNode, repairs: list[Repair], language: str = "en") -> None:
    """Tell the student, at the top of the graded notebook (and so in nbgrader's feedback), what happened, in
    ``language`` (the release's edition's)."""
    if not repairs:
        return
    lines = [translate("**Note from the grader.** Your hand-in needed these repairs before it could be graded; "
                       "nothing else was changed:", language), ""]
    lines += [f"- {inert_text(r.student)}" for r in repairs]  # names in them are the student's
    cell = nbformat.v4.new_markdown_cell("\n".join(lines))
    cell.metadata["tags"] = [NOTE_TAG]
    nb.cells.insert(0, cell)


# ---------------------------------------------------------------- plain files only

def _what(mode: int, language: str = "en") -> str:
    if stat.S_ISLNK(mode):
        return translate(N_("a symbolic link"), language)
    if stat.S_ISFIFO(mode):
        return translate(N_("a named pipe"), language)
    if stat.S_ISSOCK(mode):
        return translate(N_("a socket"), language)
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return translate(N_("a device"), language)
    return translate(N_("not a regular file"), language)


def _read_plain(path: Path, limit: int, language: str = "en") -> bytes:
    """The bytes of a regular file, opened without following a link and without blocking on a pipe; Unreadable
    says why not in ``language`` (English for the instructor, the student's for a file copied with a notebook)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable(translate("is {what}", language, what=_what(info.st_mode, language)))
        if info.st_size > limit:
            raise Unreadable(translate("is {size:.0f} MB (the limit is {limit:.0f} MB)", language,
                                       size=info.st_size / 1024 ** 2, limit=limit / 1024 ** 2))
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise Unreadable(translate("grew beyond {limit:.0f} MB while being read", language,
                                           limit=limit / 1024 ** 2))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _plain_folder(path: Path, shown: str) -> None:
    """Refuse a hand-in folder that is a link (or not a folder at all): it could lead anywhere."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise Unreadable(f"{shown}/ does not exist") from None
    if not stat.S_ISDIR(mode):
        raise Unreadable(f"{shown} is {_what(mode)}, not a folder; only regular files and folders are graded")


def copy_plain(src: Path, dest: Path, skip: str = "", language: str = "en") -> list[Repair]:
    """Copy the regular files and folders under ``src`` (except ``skip``); report everything else, in
    ``language``."""
    repairs, files, size = [], 0, 0
    pending = [Path()]
    while pending:
        rel = pending.pop()
        (dest / rel).mkdir(parents=True, exist_ok=True)
        with os.scandir(src / rel) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                name = rel / entry.name
                if str(name) == skip or entry.name == ".ipynb_checkpoints":
                    continue
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    pending.append(name)
                    continue
                if not stat.S_ISREG(mode):
                    what = _what(mode, language)
                    summary = (translate("left out {name}: {what} to {target}", language, name=name, what=what,
                                         target=os.readlink(entry.path)[:80]) if stat.S_ISLNK(mode) else
                               translate("left out {name}: {what}", language, name=name, what=what))
                    repairs.append(Repair(summary, translate(
                        "`{name}` in your hand-in is {what}, not a file, so it was left out: only regular files are "
                        "graded.", language, name=name, what=what)))
                    continue
                try:
                    data = _read_plain(Path(entry.path), MAX_EXTRA - size, language)
                except (Unreadable, OSError) as exc:
                    why = (str(exc) if isinstance(exc, Unreadable) else
                           translate("could not be read ({error})", language, error=exc.strerror))
                    repairs.append(Repair(translate("left out {name}: it {why}", language, name=name, why=why),
                                          translate("`{name}` in your hand-in was left out: it {why}.", language,
                                                    name=name, why=why)))
                    continue
                files += 1
                if files > MAX_FILES:
                    repairs.append(Repair(
                        translate("left out {name} and the rest: more than {count} files", language, name=name,
                                  count=MAX_FILES),
                        translate("Your hand-in holds more than {count} files; the rest were left out.", language,
                                  count=MAX_FILES)))
                    return repairs
                size += len(data)
                (dest / name).write_bytes(data)
    return repairs


def plain_name(name: str) -> bool:
    """Whether ``name`` can be a student id or an assignment name: one plain folder name, not hidden."""
    return bool(name) and not name.startswith(".") and os.sep not in name and not (os.altsep and os.altsep in name)


def stage(root: Path, assignment: str, student: str) -> list[Repair]:
    """Copy one submission to the staging area, sanitised; raises Unreadable with the reason."""
    for name, what in ((student, "student id"), (assignment, "assignment name")):
        if not plain_name(name):
            raise Unreadable(f"{name!r} is not a {what} (a plain folder name under submitted/)")
    base = Path(root) / "submitted"
    src, dest = base / student / assignment, Path(root) / STAGED / student / assignment
    _plain_folder(base / student, f"submitted/{student}")
    _plain_folder(src, f"submitted/{student}/{assignment}")
    if dest.exists():
        shutil.rmtree(dest)
    notebook = f"{assignment}.ipynb"
    try:
        mode = os.lstat(src / notebook).st_mode
    except FileNotFoundError:
        found = sorted(p.name for p in src.glob("*.ipynb"))
        raise Unreadable(f"no {notebook} in submitted/{student}/{assignment}/"
                         + (f" (found {', '.join(found)})" if found else "")) from None
    if not stat.S_ISREG(mode):
        raise Unreadable(f"{notebook} is {_what(mode)}, not a file: only regular files are graded")
    try:
        raw = _read_plain(src / notebook, MAX_NOTEBOOK)
    except Unreadable as exc:
        raise Unreadable(f"{notebook} {exc}") from None
    except OSError as exc:
        raise Unreadable(f"{notebook} could not be read ({exc.strerror})") from None
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except (json.JSONDecodeError, UnicodeDecodeError, nbformat.reader.NotJSONError) as exc:
        raise Unreadable(f"{notebook} is not valid notebook JSON ({str(exc).splitlines()[0][:120]})") from None
    except Exception as exc:  # noqa: BLE001 - any other complaint of nbformat about the file
        raise Unreadable(f"{notebook} could not be read: {type(exc).__name__}: {str(exc)[:120]}") from None
    if not isinstance(nb.get("cells"), list) or not all(isinstance(c, dict) for c in nb.cells):
        raise Unreadable(f"{notebook} has no list of cells")
    released = nbformat.read(Path(root) / RELEASE / assignment / notebook, as_version=4)
    language = language_of_notebook(released)  # the student's edition: the repairs are told in its language
    repairs = sanitise(nb, released)
    inert_cells(nb, released)
    repairs += copy_plain(src, dest, skip=notebook, language=language)
    add_note(nb, repairs, language)
    nbformat.write(nb, dest / notebook)
    return repairs
