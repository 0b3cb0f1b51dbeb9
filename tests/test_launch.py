"""The launch commands in README and in the student README open notebook 01 with the whole course in reach."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import REPO

pytest.importorskip("jupyterlab")
TOKEN = "bpcourse-launch-test"
FIRST = "course/01_computational_graphs/01_computational_graphs.ipynb"
FIRST_KO = FIRST.replace("01_computational_graphs", "01_computational_graphs_ko")


def _launch_args(readme: str) -> list[str]:
    """The arguments after `jupyter lab` in the README's launch command."""
    found = re.findall(r"jupyter lab([^\n`&]*)", (REPO / readme).read_text(encoding="utf-8"))
    assert found, f"{readme} has no `jupyter lab ...` command"
    return shlex.split(found[0])


@pytest.mark.parametrize("readme,first", [("README.md", FIRST), ("binder/README.student.md", FIRST),
                                          ("binder/README.student.ko.md", FIRST_KO)])
def test_the_launch_command_opens_notebook_01_with_every_notebook_reachable(readme, first, tmp_path):
    args = _launch_args(readme)
    opened = tmp_path / "opened.txt"
    # A stand-in browser: jupyter_server hands it the page it would open for the student.
    browser = tmp_path / "browser.py"
    browser.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "lab.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", *args, "--ip=127.0.0.1", f"--port={port}", "--allow-root",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.browser={sys.executable} {browser} %s",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 90
        while not opened.exists() or not opened.read_text():
            assert time.monotonic() < end and server.poll() is None, (tmp_path / "lab.log").read_text()[-3000:]
            time.sleep(0.3)
        page = opened.read_text()
        if page.startswith("file://"):  # the redirect page jupyter_server writes for the browser
            page = open(page[len("file://"):], encoding="utf-8").read()
        assert f"lab/tree/{first}" in page or f"tree/{first}" in page, page[:500]

        def contents(path: str) -> dict:
            with urllib.request.urlopen(f"{base}/api/contents/{path}?content=0&token={TOKEN}", timeout=10) as r:
                return json.load(r)

        for notebook in sorted((REPO / "course").glob("*/*.ipynb")):
            rel = notebook.relative_to(REPO).as_posix()
            assert contents(rel)["type"] == "notebook", rel
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
