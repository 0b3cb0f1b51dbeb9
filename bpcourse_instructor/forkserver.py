"""Kernels forked from a warm parent: Python, ipykernel, NumPy, matplotlib, bpcourse and grader_tests are loaded
once per grading worker, not once per notebook.

A grading worker starts one *fork server* (:class:`ForkServer`), a Python process that imports what every
kernel needs and then only forks: it never runs a line a student wrote. For each kernel it forks twice, so the
kernel's parent is the grading worker (a child subreaper, :func:`bpcourse_instructor.leftovers.adopt_orphans`),
which waits for it and signals it as it would an exec'd kernel (:class:`ForkedKernel`). The kernel then takes
the same steps an exec'd kernel's launcher takes (:func:`bpcourse_instructor.launch.prepare`: caps, no files
of the grader's, its own session, an allow-listed environment, Landlock) and starts ipykernel. Each notebook
still gets a fresh process with no state from another student: a copy of a parent that never ran student code.

The server and its kernels talk over one socket pair that only the grading worker holds; a kernel closes its
copy before any student code runs. If the server cannot start or dies, kernels are exec'd as before.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

# What the server imports once. Not ipywidgets or matplotlib's inline backend: they hook into the IPython
# shell when imported, which exists only in the kernel.
PRELOAD = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger", "psutil",
           "IPython.core.completer", "IPython.core.oinspect", "numpy", "matplotlib", "matplotlib.pyplot",
           "bpcourse.data", "bpcourse.gradcheck", "bpcourse.graphplot", "bpcourse_instructor.confine", "grader_tests")
_SERVE = "import sys; from bpcourse_instructor.forkserver import serve; serve(int(sys.argv[1]))"


# ---------------------------------------------------------------- in the server

def _preload() -> None:
    import importlib
    import pkgutil

    for name in PRELOAD:
        try:
            module = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the kernel imports it itself then, and reports what is wrong
            continue
        if name == "grader_tests":
            for info in pkgutil.iter_modules(module.__path__):
                try:
                    importlib.import_module(f"grader_tests.{info.name}")
                except Exception:  # noqa: BLE001 - as above
                    pass


def serve(fd: int) -> None:
    """The server's loop: one JSON request per line ({cfg, cmd, cwd, env}), one JSON reply ({pid} or
    {error}); ends when the grading worker closes its end."""
    _preload()
    conn = socket.socket(fileno=fd)
    stream = conn.makefile("rwb")
    stream.write(b'{"ready": true}\n')
    stream.flush()
    for line in stream:
        try:
            reply = {"pid": _spawn(json.loads(line))}
        except OSError as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        stream.write(json.dumps(reply).encode() + b"\n")
        stream.flush()
    home = os.environ.get("HOME", "")
    if os.path.basename(home).startswith("kernel-"):  # the private folder its grading worker made for it
        import shutil
        shutil.rmtree(home, ignore_errors=True)
    os._exit(0)


def _spawn(request: dict) -> int:
    """Fork twice: the kernel's parent becomes the grading worker once the middle process exits."""
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(r)
            me = os.getpid()  # not the kernel's getppid(): by then this process may have exited already
            kernel = os.fork()
            if kernel == 0:
                os.close(w)
                _become_kernel(request, me)  # never returns
            os.write(w, str(kernel).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 64):
        data += chunk
    os.close(r)
    os.waitpid(middle, 0)
    if not data:
        raise OSError("the kernel could not be forked")
    return int(data)


def _become_kernel(request: dict, middle: int) -> None:
    code = 1
    try:
        while os.getppid() == middle:  # wait until adopted, so ipykernel sees its real parent
            time.sleep(0.001)
        import random
        import tempfile

        from bpcourse_instructor.launch import prepare

        os.chdir(request["cwd"])
        prepare(request["cfg"], request["cmd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # computed again from TMPDIR
        random.seed()            # a fresh process would draw fresh seeds; so does this one
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        launcher = request["cmd"].index("ipykernel_launcher")
        sys.argv = ["ipykernel_launcher", *request["cmd"][launcher + 1:]]
        if request["env"].get("JPY_PARENT_PID", "").isdigit():  # read when ipykernel was imported: set it now,
            # so the kernel ends if its grading worker does (an exec'd kernel reads it from its environment)
            sys.argv.append(f"--IPKernelApp.parent_handle={request['env']['JPY_PARENT_PID']}")
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - say why in the kernel log, exit as a crashed kernel would
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


# ---------------------------------------------------------------- in the grading worker

class ForkServer:
    """The grading worker's handle on its fork server."""

    def __init__(self, env: dict[str, str], log: str, timeout: float = 120):
        mine, theirs = socket.socketpair()
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the server
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-c", _SERVE, str(theirs.fileno())], pass_fds=[theirs.fileno()], env=env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, cwd=env.get("HOME"))
        finally:
            theirs.close()
            if out is not subprocess.DEVNULL:
                out.close()
        self.conn = mine
        self.stream = mine.makefile("rwb")
        mine.settimeout(timeout)
        try:
            ready = self.stream.readline()
        except OSError:
            ready = b""
        if not ready:
            self.close()
            raise OSError("the fork server did not start (see build/grading/kernels.log)")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, cfg: dict, cmd: list[str], cwd: str, env: dict[str, str]) -> int:
        """Fork a kernel that runs ``cmd`` (``python -m ipykernel_launcher -f FILE``) as ``cfg`` says."""
        self.stream.write(json.dumps({"cfg": cfg, "cmd": cmd, "cwd": cwd, "env": env}).encode() + b"\n")
        self.stream.flush()
        line = self.stream.readline()
        if not line:
            raise OSError("the fork server ended")
        reply = json.loads(line)
        if "pid" not in reply:
            raise OSError(reply.get("error", "the fork server refused"))
        return int(reply["pid"])

    def close(self) -> None:
        for f in (self.stream, self.conn):
            try:
                f.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class ForkedKernel:
    """What jupyter_client asks of a kernel's ``Popen``, for a kernel that is this process's child by adoption."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped already (by the sweep after a notebook)
                self.returncode = -9
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.01)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(9)

    def terminate(self) -> None:
        self.send_signal(15)
