"""A real Dask cluster on 127.0.0.1 for the tests: `dask scheduler` and `dask worker` processes, each stopped by
its own pid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class LocalCluster:
    """A scheduler and ``workers`` single-threaded workers (no nanny: a killed worker stays dead)."""

    def __init__(self, folder: Path, workers: int = 2):
        self.folder, self.procs = Path(folder), {}
        self.folder.mkdir(parents=True, exist_ok=True)
        dask = str(Path(sys.executable).with_name("dask"))
        # A notebook whose worker dies is run once more elsewhere, then reported (what README advises).
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
        spec = self.folder / "scheduler.json"
        try:
            self.scheduler = self._start("scheduler", [dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                                       "--no-dashboard", "--scheduler-file", str(spec)], env)
            self.address = self._address(spec)
            for i in range(workers):
                self.procs[i] = self._start(f"worker{i}", [
                    dask, "worker", self.address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                    "--no-dashboard", "--local-directory", str(self.folder / f"worker{i}")], env)
            self.pids = self._wait_for(workers)
        except BaseException:
            self.stop()
            raise

    def _start(self, name: str, cmd: list[str], env: dict) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - the process holds it
        try:
            return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=self.folder)
        finally:
            log.close()

    def _address(self, spec: Path) -> str:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if spec.exists():
                try:
                    return json.loads(spec.read_text())["address"]
                except (ValueError, KeyError):
                    pass
            if self.scheduler.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the scheduler did not start:\n{(self.folder / 'scheduler.log').read_text()[-2000:]}")

    def _wait_for(self, workers: int) -> dict[str, int]:
        """{worker address: pid} once all workers have joined."""
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=90)
            return client.run(os.getpid)

    def stop(self) -> None:
        for proc in [*self.procs.values(), getattr(self, "scheduler", None)]:
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
