"""Instructor tools built on nbgrader's own API (imported lazily: students never need nbgrader): the course's
assignments and their release. The student export is in :mod:`bpcourse_instructor.export`."""

from __future__ import annotations

from pathlib import Path

SOURCE = "solutions"
RELEASE = "course"


def assignments(root: Path) -> list[str]:
    """Assignment names, in course order: one folder per assignment under solutions/."""
    return sorted(p.name for p in (Path(root) / SOURCE).iterdir()
                  if p.is_dir() and not p.name.startswith((".", "_")))


def nbgrader_config(root: Path, argv: list[str] | tuple = ()):
    """The configuration an nbgrader command run in ``root`` would see, loaded in nbgrader's order.

    Lowest precedence first: ``nbgrader_config.py`` in each Jupyter config folder (the system's, the Python
    environment's, then the user's and ``JUPYTER_CONFIG_DIR``), then the course's own file in ``root``, then
    ``argv`` (``--Section.name=value`` options). So a late-submission penalty or a gradebook location set
    hub-wide holds for ``bpcourse`` as it does for ``nbgrader autograde``. ``CourseDirectory.root`` is ``root``
    unless a file sets it.
    """
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import KVArgParseConfigLoader, PyFileConfigLoader

    root = Path(root).resolve()
    config = Config()
    config.CourseDirectory.root = str(root)
    for folder in dict.fromkeys([*reversed(jupyter_config_path()), str(root)]):
        if (Path(folder) / "nbgrader_config.py").is_file():
            config.merge(PyFileConfigLoader("nbgrader_config.py", path=folder).load_config())
    if argv:
        config.merge(KVArgParseConfigLoader(argv=list(argv)).load_config())
    return config


def coursedir(root: Path, argv: list[str] | tuple = ()):
    """nbgrader's CourseDirectory as configured for ``root`` (db_url, course_id, the folders)."""
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=nbgrader_config(root, argv))


def nbgrader_api(root: Path, argv: list[str] | tuple = (), **overrides):
    """An NbGraderAPI for the course at ``root`` (configured as :func:`nbgrader_config` says), with
    ``overrides`` ({section: {name: value}}) on top."""
    from nbgrader.apps import NbGraderAPI

    config = nbgrader_config(root, argv)
    for section, values in overrides.items():
        for key, value in values.items():
            setattr(getattr(config, section), key, value)
    return NbGraderAPI(config=config)


def release(root: Path, names: list[str] | None = None, *, use_db: bool = True, config=()) -> None:
    """Regenerate course/ from solutions/ with nbgrader (all assignments unless ``names`` given); ``config``:
    --Section.name=value options on top of nbgrader's configuration."""
    overrides = {} if use_db else {"GenerateAssignment": {"no_database": True}, "SaveCells": {"enabled": False}}
    api = nbgrader_api(root, config, **overrides)
    for name in names or assignments(root):
        result = api.generate_assignment(name, force=True)
        if not result["success"]:
            log, error = result.get("log", ""), result.get("error", "")
            raise RuntimeError(f"nbgrader could not generate {name}:\n{log}\n{error}")
