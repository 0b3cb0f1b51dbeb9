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
            log, error = result.get("log", ""), result.get("error", "")
            raise RuntimeError(f"nbgrader could not generate {name}:\n{log}\n{error}")
