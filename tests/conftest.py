import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


def assignment_names() -> list[str]:
    from bpcourse.instructor import assignments
    return assignments(REPO)


def copy_course(dest: Path, *, with_course: bool = True) -> Path:
    """A scratch copy of what nbgrader needs: config, solutions and (optionally) the committed release."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", dest)
    shutil.copytree(REPO / "solutions", dest / "solutions")
    if with_course:
        shutil.copytree(REPO / "course", dest / "course")
    return dest


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """solutions/ released afresh by nbgrader into a temporary course root."""
    from bpcourse.instructor import release
    root = copy_course(tmp_path_factory.mktemp("generated"), with_course=False)
    release(root, use_db=False)
    return root
