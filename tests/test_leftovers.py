"""`bpcourse grade` leaves nothing behind: no process, no file outside the notebook's folder, no huge output.

Students of notebook 03 in the one graded trial run (tests/test_grading_trust.py): a submission that starts a


temporary folder), and two bystanders (a correct answer and the blank release). Below them, unit tests of
the output caps on fabricated kernel messages.
"""

import json
import os
import signal
from pathlib import Path

import nbformat
import pytest
from conftest import REPO
from test_autograde import _submission
from test_grading import FULL, NAME, _append, _index

HUGE = 50_000_000

# Double fork and setsid: the daemon's parent exits, so it is re-parented (to init, unless someone adopts it)
# and it belongs to no process group or session of the kernel's. Plus a child in a session of its own that
# stays the kernel's child. Both write their pid where the test finds it and run for five minutes.
DAEMON = """
import os, subprocess, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open("daemon.pid", "w") as f:
            f.write(str(os.getpid()))
        for _ in range(3000):
            time.sleep(0.1)
    os._exit(0)
os.wait()
_child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
while not os.path.exists("daemon.pid"):
    time.sleep(0.01)
time.sleep(0.1)
print("PIDS", open("daemon.pid").read(), _child.pid, os.getcwd())
"""

HUGE_DISPLAY = f"""
from IPython.display import publish_display_data
publish_display_data({{"text/plain": "d" * {HUGE}}})
"""
HUGE_RESULT = f'\n"r" * {HUGE}\n'
HUGE_ERROR = f'\nraise ValueError("e" * {HUGE})\n'

# Each place is tried; the cell prints what happened, and the test checks that nothing stayed.
WRITES = """
import json, os
_tried = {}
for _path in %r + [os.path.join(os.environ.get("TMPDIR", "/tmp"), "leftover.txt")]:
    try:
        os.makedirs(os.path.dirname(_path), exist_ok=True)
        with open(_path, "w") as f:
            f.write("x" * 1_000_000)
        _tried[_path] = "written"
    except OSError as exc:
        _tried[_path] = type(exc).__name__
print("TRIED " + json.dumps(_tried))
"""


def _outside_places(student: str) -> list[str]:
    """Where a kernel must not leave anything: shared memory, other devices, the shared caches."""
    import matplotlib

    from bpcourse.data import default_cache_dir

    name = f"bpcourse-leftover-{student}-{os.getpid()}"
    places = [f"/dev/shm/{name}", f"/dev/mqueue/{name}", f"/dev/{name}", f"/dev/pts/{name}",
              os.path.join(matplotlib.get_cachedir(), name), os.path.join(default_cache_dir(), name)]
    if os.environ.get("BPCOURSE_DATA_DIR"):
        places.append(os.path.join(os.environ["BPCOURSE_DATA_DIR"], name))
    return places


def _class():
    s = {"full": _submission(NAME),
         "blank": nbformat.read(REPO / "course" / NAME / f"{NAME}.ipynb", as_version=4)}
    s["daemon"] = _append(_submission(NAME), "mul_layer", DAEMON)
    nb = _submission(NAME)
    _append(nb, "mul_layer", HUGE_DISPLAY)
    _append(nb, "add_layer", HUGE_RESULT)
    _append(nb, "max_layer", HUGE_ERROR)
    s["huge_outputs"] = nb
    s["writes_outside"] = _append(_submission(NAME), "mul_layer", WRITES % _outside_places("writes_outside"))
    return s


def trial_cases(root) -> dict:
    """These students join the trust trial's one graded run (tests/test_grading_trust.py), all full marks."""
    return {(NAME, student): ({f"{NAME}.ipynb": nb}, set(), "") for student, nb in _class().items()
            if student not in ("full", "blank")}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def graded(trial):
    """Notebook 03's students of the one graded trial run (tests/test_grading_trust.py)."""
    root, _, outcomes, *_ = trial
    return root, {student: o for (name, student), o in outcomes.items() if name == NAME}


def _graded_nb(root: Path, student: str):
    return nbformat.read(root / "autograded" / student / NAME / f"{NAME}.ipynb", as_version=4)


def _scores(outcome) -> dict:
    assert not outcome.problem, outcome.problem
    return {cell: score for cell, (score, _) in outcome.cells.items()}


@pytest.mark.slow
def test_bystanders_are_unaffected(graded):
    _, outcomes = graded
    assert _scores(outcomes["full"]) == FULL
    assert _scores(outcomes["blank"]) == dict.fromkeys(FULL, 0.0)


@pytest.mark.slow
def test_nothing_a_notebook_started_still_runs(graded):
    root, outcomes = graded
    nb = _graded_nb(root, "daemon")
    text = "".join(o.get("text", "") for o in nb.cells[_index(nb, "mul_layer")].outputs)
    daemon, child, folder = text.split("PIDS ", 1)[1].split()[:3]  # folder: where the kernel ran
    pids = {"daemon": int(daemon), "child": int(child)}
    running = [name for name, pid in pids.items() if _alive(pid)]
    for name in running:  # never leak it, even when the test fails (and only if it is still ours)
        if os.readlink(f"/proc/{pids[name]}/cwd").startswith(folder):
            os.kill(pids[name], signal.SIGKILL)
    assert not running, f"still running after grading: {running}"
    assert _scores(outcomes["daemon"]) == FULL


@pytest.mark.slow
def test_every_kind_of_huge_output_is_cut_with_a_note(graded):
    root, outcomes = graded
    path = root / "autograded" / "huge_outputs" / NAME / f"{NAME}.ipynb"
    assert path.stat().st_size < 1_000_000, f"the graded notebook keeps {path.stat().st_size:,} bytes"
    nb = _graded_nb(root, "huge_outputs")
    for grade_id in ("mul_layer", "add_layer", "max_layer"):
        text = json.dumps(nb.cells[_index(nb, grade_id)].outputs)
        assert "output truncated by the grader" in text, f"{grade_id}: no note in {text[:300]}"
    error = [o for o in nb.cells[_index(nb, "max_layer")].outputs if o.output_type == "error"]
    assert error and error[0].ename == "ValueError" and error[0].evalue.startswith("eee")
    assert _scores(outcomes["huge_outputs"]) == FULL


@pytest.mark.slow
def test_nothing_written_outside_the_notebook_folder_stays(graded):
    from bpcourse_instructor import confine

    root, outcomes = graded
    if confine.abi() < 1:
        pytest.skip("this system has no Landlock: kernels can write anywhere the grader can")
    nb = _graded_nb(root, "writes_outside")
    text = "".join(o.get("text", "") for o in nb.cells[_index(nb, "mul_layer")].outputs)
    tried = json.loads(text.split("TRIED ", 1)[1].splitlines()[0])
    places = _outside_places("writes_outside")
    assert set(places) <= set(tried), tried  # the kernel ran the cell and tried each place
    left = [p for p in places if os.path.lexists(p)]
    for p in left:
        os.remove(p)
    assert not left, f"left behind by a kernel: {left} (attempts: {tried})"
    tmpdir = next(p for p in tried if p.endswith("leftover.txt"))
    assert tried[tmpdir] == "written" and not os.path.exists(os.path.dirname(tmpdir)), \
        "the kernel's private temporary folder was not removed"
    scratch = root / "build" / "grading" / "tmp"
    assert not scratch.exists() or not any(scratch.iterdir()), list(scratch.iterdir())
    assert _scores(outcomes["writes_outside"]) == FULL


# ---------------------------------------------------------------- the output caps, on fabricated messages

def _executor(source: str = "pass"):
    from bpcourse_instructor.execute import RobustExecute

    ex = RobustExecute()
    ex.nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    ex.reset_execution_trackers()
    ex.clear_before_next_output = False  # set per cell by nbclient's execute_cell
    return ex, ex.nb.cells[0]


def _send(ex, cell, msg_type: str, content: dict, parent: str = "run-1"):
    msg = {"msg_type": msg_type, "header": {"msg_type": msg_type}, "parent_header": {"msg_id": parent},
           "content": content}
    ex.process_message(msg, cell, 0)
    return cell.outputs


def test_rich_outputs_are_cut_per_cell_with_one_note():
    from bpcourse_instructor.outputs import RICH_CAP

    ex, cell = _executor()
    picture = {"data": {"image/png": "P" * 90_000, "text/plain": "<Figure>"}, "metadata": {}}
    for _ in range(3):  # a few figures, as the course draws them: kept
        _send(ex, cell, "display_data", picture)
    _send(ex, cell, "execute_result", {"data": {"text/plain": "r" * (2 * RICH_CAP)}, "metadata": {},
                                       "execution_count": 1})
    _send(ex, cell, "display_data", {"data": {"text/plain": "d" * RICH_CAP}, "metadata": {}})
    outs = cell.outputs
    assert [o.output_type for o in outs] == ["display_data"] * 3 + ["execute_result"]
    assert all(o.data["image/png"] == picture["data"]["image/png"] for o in outs[:3])
    assert "output truncated by the grader" in outs[3].data["text/plain"] and outs[3].execution_count == 1
    assert len(json.dumps(outs)) < RICH_CAP


def test_printed_text_and_errors_are_cut():
    from bpcourse_instructor.outputs import ERROR_CAP, OUTPUT_CAP

    ex, cell = _executor()
    for _ in range(3):
        _send(ex, cell, "stream", {"name": "stdout", "text": "t" * OUTPUT_CAP})
    _send(ex, cell, "error", {"ename": "ValueError", "evalue": "e" * HUGE,
                              "traceback": ["frame\n" * 1000] * 1000 + ["ValueError: " + "e" * HUGE]})
    _send(ex, cell, "error", {"ename": "Again", "evalue": "e", "traceback": []})
    streams = [o for o in cell.outputs if o.output_type == "stream"]
    assert sum(len(o.text) for o in streams) < OUTPUT_CAP + 1000 and "truncated" in streams[-1].text
    error = cell.outputs[-2]
    assert error.ename == "ValueError" and len(error.evalue) < ERROR_CAP + 100
    assert len(json.dumps(error.traceback)) < 4 * ERROR_CAP and "truncated" in json.dumps(error.traceback)
    assert cell.outputs[-1].ename == "Again"  # small, within the budget


def test_update_display_data_is_capped_too():
    from bpcourse_instructor.outputs import RICH_CAP

    ex, cell = _executor()
    _send(ex, cell, "display_data", {"data": {"text/plain": "small"}, "metadata": {},
                                     "transient": {"display_id": "d1"}})
    _send(ex, cell, "update_display_data", {"data": {"text/plain": "u" * (2 * RICH_CAP)}, "metadata": {},
                                            "transient": {"display_id": "d1"}})
    assert len(cell.outputs) == 1 and "truncated by the grader" in cell.outputs[0].data["text/plain"]


def test_honest_transcripts_reach_the_judge_whole_and_forged_floods_do_not():
    import numpy as np

    from bpcourse_instructor import outputs
    from grader_tests import _replay

    test_cell = "from grader_tests.nb03 import check_mul_layer\ncheck_mul_layer(MulLayer)"  # one hidden check
    ex, cell = _executor(test_cell)
    # The largest transcript a hidden test can record: MAX_BYTES of incompressible arrays.
    big = np.random.default_rng(0).random(int(_replay.MAX_BYTES * 3 / 4 / 8) - 1000)
    entries = [["MulLayer.forward", "ok", _replay.encode(big, []), []]]
    honest = _replay.pack("nb03.check_mul_layer", entries)
    assert len(json.dumps(entries)) <= _replay.MAX_BYTES < len(honest["z"]) <= outputs.TRANSCRIPT_CAP
    for _ in range(4):  # one per hidden check, one more so the judge sees "too many", the rest dropped
        _send(ex, cell, "display_data", {"data": {_replay.MIME: honest, "text/plain": "x" * HUGE}, "metadata": {}})
    assert len(cell.outputs) == 2
    assert all(o.data == {_replay.MIME: honest} for o in cell.outputs)  # whole, and nothing else kept with it
    assert _replay.unpack(cell.outputs[0].data[_replay.MIME])[1] == entries

    ex, cell = _executor(test_cell)
    forged = {"check": "nb03.check_mul_layer", "z": "A" * (outputs.TRANSCRIPT_CAP + 1)}
    _send(ex, cell, "display_data", {"data": {_replay.MIME: forged}, "metadata": {}})
    kept = [o for o in cell.outputs if o.output_type == "display_data"]
    assert kept[0].data[_replay.MIME]["z"] == "" and "truncated by the grader" in json.dumps(cell.outputs)
