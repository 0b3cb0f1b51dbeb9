import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# Every hidden check run by the suite (here and in the kernels it starts) is also replayed from its
# transcript, and must reach the same verdict: that is what lets `bpcourse grade` judge outside the kernel.
os.environ["BPCOURSE_CROSSCHECK"] = "1"

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
# Notebook 07 and the kernels the tests start read MNIST from here instead of downloading it.
if SHARED_MNIST.is_dir():
    os.environ.setdefault("BPCOURSE_DATA_DIR", str(SHARED_MNIST))
NEEDS_MNIST = {"07_two_layer_net", "07_two_layer_net_ko"}  # both editions train on it


def skip_without_mnist(name: str) -> None:
    if name in NEEDS_MNIST and not os.environ.get("BPCOURSE_DATA_DIR"):
        pytest.skip(f"{name} trains on MNIST: set BPCOURSE_DATA_DIR to a folder with the four MNIST .gz files")


def assignment_names() -> list[str]:
    from bpcourse_instructor.course import assignments
    return assignments(REPO)


def copy_course(dest: Path, *, with_course: bool = True) -> Path:
    """A scratch copy of what nbgrader needs: config, solutions and (optionally) the committed release."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", dest)
    shutil.copytree(REPO / "solutions", dest / "solutions")
    if with_course:
        shutil.copytree(REPO / "course", dest / "course")
    return dest


def planted_checks(name: str) -> set:
    """grade_ids of the test cells that check a find-the-planted-bug exercise of ``name`` (their solution cell
    releases given code with a ``# planted:`` line, bpcourse_instructor.stubs): on the release they fail by
    catching the bug, not on a stub."""
    import nbformat

    checks, planted = set(), False
    for cell in nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            planted = any(line.strip().startswith("# planted:") for line in cell.source.splitlines())
        elif meta.get("grade") and planted:
            checks.add(meta["grade_id"])
    return checks


def gradebook_verdicts(root: Path, keys) -> dict:
    """{(assignment, student): {test cell: score}} from ``root``'s gradebook, or None for a hand-in that was not
    graded (no submission, a cell without a score, or the page bpcourse writes for a hand-in it could not grade)."""
    from nbgrader.api import Gradebook, MissingEntry

    from bpcourse_instructor.traces import NOT_GRADED

    refused = NOT_GRADED.split("{")[0]
    verdicts = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for name, student in keys:
            try:
                nb = gb.find_submission(name, student).notebooks[0]
            except (MissingEntry, IndexError):
                verdicts[name, student] = None
                continue
            graded = {g.name: g.score for g in nb.grades if g.max_score}
            shown = all(v is not None for v in graded.values())
            if not shown or any((c.auto_comment or "").startswith(refused) for c in nb.comments):
                graded = None
            verdicts[name, student] = graded
    return verdicts


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """solutions/ released afresh by nbgrader into a temporary course root."""
    from bpcourse_instructor.course import release
    root = copy_course(tmp_path_factory.mktemp("generated"), with_course=False)
    release(root, use_db=False)
    return root


@pytest.fixture(scope="session")
def trial(tmp_path_factory):
    """The trust trial's one graded run (tests/test_grading_trust.py), shared by every module adding cases to it:
    (root, cases, outcomes by (assignment, student), summary, outcomes of a later regrade)."""
    from test_grading_trust import run_trial

    return run_trial(tmp_path_factory)


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    """A Dask scheduler and two workers on 127.0.0.1 (tests/daskrun.py), stopped after the session."""
    pytest.importorskip("distributed")
    from daskrun import LocalCluster

    cluster = LocalCluster(tmp_path_factory.mktemp("dask"))
    yield cluster
    cluster.stop()

