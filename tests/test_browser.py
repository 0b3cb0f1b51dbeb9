"""What a student sees: JupyterLab in a real Chromium runs the solution notebooks cleanly (in the short path
nbgrader validate takes), and what an instructor clicks: the formgrader's Autograde button.

The browser runs every Korean notebook and the English 01 (whose Korean terms must render too); the other English
notebooks run in nbclient (tests/test_notebooks.py), and their code is the Korean ones' token by token
(tests/test_editions.py). In a Korean notebook the Hangul of its first heading must be drawn with real glyphs, and
its figures must come out of a kernel that drew them with a Hangul font and wrote no missing-glyph warning.

JupyterLab serves a scratch copy of the solution notebooks on 127.0.0.1; Playwright drives the system
Chromium (never a downloaded browser) and every request to anything but 127.0.0.1 is blocked. For each
notebook: Run All, save, then the page must show no error output, one rendered widget per widget output
and one image per figure the kernel produced. A screenshot per notebook goes to $BPCOURSE_SCREENSHOTS
(default: build/screenshots/).
"""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, SHARED_MNIST, skip_without_mnist

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.slow

if CHROMIUM is None:
    pytest.skip("system Chromium not found: install it with `apt-get install chromium` (CI does)",
                allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")
sync_playwright, expect = playwright.sync_playwright, playwright.expect

NOTEBOOKS = sorted(p.stem for p in (REPO / "solutions").glob("*/*.ipynb")
                   if p.stem.endswith("_ko") or p.stem == "01_computational_graphs")
TOKEN = "bpcourse-browser-test"
NO_FONT = "그림에 한글을 그릴 글꼴이 없습니다"  # what bpcourse.fonts prints when no font can draw Hangul
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# Korean terms in notebook 01's Markdown whose syllables must be drawn with real glyphs.
HANGUL_WORDS = {"01_computational_graphs": ("계산 그래프", "역전파", "순전파")}
# For each word: the width of each syllable where the Markdown renders it (a Range over its own text), the font
# size, and the width of U+0378 (unassigned, so no font has it: always the missing-glyph box) in the same element.
MEASURE_HANGUL = r"""async (words) => {
    await document.fonts.ready;
    return words.map((word) => {
        const walker = document.createTreeWalker(document.querySelector(".jp-Notebook"), NodeFilter.SHOW_TEXT);
        let node;
        while ((node = walker.nextNode())
               && !(node.data.includes(word) && node.parentElement.closest(".jp-RenderedMarkdown"))) {}
        if (!node) return {word, found: false};
        const el = node.parentElement, style = getComputedStyle(el);
        const probe = document.createElement("span");
        probe.style.cssText = "position: absolute; visibility: hidden; white-space: pre";
        probe.textContent = "\u0378";
        el.appendChild(probe);
        const missing = probe.getBoundingClientRect().width;
        probe.remove();
        const range = document.createRange(), start = node.data.indexOf(word), glyphs = [];
        [...word].forEach((ch, i) => {
            if (ch === " ") return;
            range.setStart(node, start + i);
            range.setEnd(node, start + i + 1);
            glyphs.push([ch, range.getBoundingClientRect().width]);
        });
        return {word, found: true, em: parseFloat(style.fontSize), missing, glyphs, font: style.fontFamily};
    });
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    for path in (REPO / "solutions").glob("*/*.ipynb"):
        shutil.copy(path, root / path.name)
    settings = root.parent / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Render every cell (no virtual scrolling) so off-screen outputs are in the page too.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    # Answer "Would you like to get notified about official Jupyter news?" with No before it is asked: the prompt
    # appears whenever fetchNews is "none" (its default), whatever --LabApp.news_url says.
    notification = root.parent / "lab-settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(root.parent / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root.parent / "lab-workspaces"),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           # Each notebook's short path, as nbgrader validate runs it (07 and 08 train for fewer steps): this test is
           # about what the page shows, and the full runs are timed by benchmarks/notebook_times.py.
           "NBGRADER_EXECUTION": "validate"}
    if SHARED_MNIST.is_dir():
        env["BPCOURSE_DATA_DIR"] = str(SHARED_MNIST)
    with _serve(root, env, root.parent / "lab.log") as base:
        yield base, root


@contextlib.contextmanager
def _serve(root: Path, env: dict, log_path: Path):
    """JupyterLab on 127.0.0.1 serving ``root`` (its working folder too, where nbgrader looks for its config);
    yields the base URL and stops the server, by its own pid, afterwards."""
    port = _free_port()
    log = open(log_path, "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start:\n" + log_path.read_text()[-3000:])
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update"])
        yield chromium
        chromium.close()


def _start_kernel(base: str, path: str) -> None:
    """Start the notebook's kernel over REST before the page opens.

    If the page's websocket reaches a kernel that is still starting, jupyter_server answers 500 and the
    page stays "Initializing"; a kernel that is already up avoids that race.
    """
    body = json.dumps({"path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"}}).encode()
    req = urllib.request.Request(f"{base}/api/sessions?token={TOKEN}", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=60).close()
    # The REST state stays "starting" until a client connects; give the process time to come up.
    time.sleep(3)


def _local_only(route):
    url = route.request.url
    if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
        route.continue_()
    else:
        route.abort()


def _heading_words(path: Path) -> tuple:
    """Up to three Hangul words of the notebook's first heading (a Korean notebook's title)."""
    import re

    first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    heading = next(line for line in first.source.splitlines() if line.startswith("#"))
    return tuple(re.findall(r"[\uac00-\ud7a3]+", heading)[:3])


def _assert_hangul_renders(page, name: str, words: tuple) -> None:
    """The notebook's Korean terms are drawn with real glyphs, not boxes ("tofu").

    A character no installed font covers is drawn as the missing-glyph box, exactly as wide as U+0378 in the same
    element (0.6 em in DejaVu Sans); a Hangul syllable from a Korean font is (nearly) full-width: 0.92 em in Noto
    Sans CJK. Each syllable must be both unlike the box and 0.75-1.25 em wide, so the check fails when no Hangul
    font is installed.
    """
    assert words, f"{name}: no Hangul in its first heading"
    page.locator(".jp-RenderedMarkdown", has_text=words[0]).first.wait_for(timeout=30_000)
    measured = page.evaluate(MEASURE_HANGUL, list(words))
    missing = [m["word"] for m in measured if not m["found"]]
    assert not missing, f"{name}: {missing} not found in the rendered Markdown"
    figures = "; ".join(
        f"{m['word']}: em {m['em']:.2f}px, missing glyph {m['missing']:.2f}px, "
        + " ".join(f"{ch} {w:.2f}" for ch, w in m["glyphs"]) for m in measured)
    print(f"{name} Hangul widths (px): {figures}")
    boxes = [ch for m in measured for ch, w in m["glyphs"]
             if abs(w - m["missing"]) < 0.05 * m["em"] or not 0.75 * m["em"] <= w <= 1.25 * m["em"]]
    assert not boxes, (f"{name}: Hangul {''.join(boxes)} drawn as boxes, no Korean font in the browser "
                       f"(apt-get install fonts-noto-cjk; .ci/run does). Widths in px: {figures}")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(lab, browser, name):
    skip_without_mnist(name)
    base, root = lab
    shots = Path(os.environ.get("BPCOURSE_SCREENSHOTS", REPO / "build" / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.route("**/*", _local_only)
    try:
        path = root / f"{name}.ipynb"
        before = path.stat().st_mtime
        _start_kernel(base, f"{name}.ipynb")
        # A workspace of its own per notebook, so no earlier notebook is restored beside it.
        page.goto(f"{base}/lab/workspaces/{name}/tree/{name}.ipynb?reset&token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        time.sleep(1)
        select = page.locator(".jp-Dialog button:has-text('Select')")
        if select.count():  # "Select Kernel" when JupyterLab doesn't pick the started session by itself
            select.first.click()
        try:
            page.wait_for_selector("#jp-main-statusbar :text('Idle')", timeout=30_000)
        except Exception:  # still "Initializing": reconnect once
            page.reload()
            page.wait_for_selector("#jp-main-statusbar :text('Idle')", timeout=60_000)
        page.locator(".jp-Notebook .jp-Cell").first.click()  # make the notebook the active widget
        if name in HANGUL_WORDS or name.endswith("_ko"):
            _assert_hangul_renders(page, name, HANGUL_WORDS.get(name) or _heading_words(path))

        def run_all():
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")

        run_all()
        # Done when the saved file shows every code cell executed (the page may not render off-screen prompts).
        # On a freshly started server the first "Run All" is sometimes lost while the kernel connects.
        start, deadline, done, total, retried = time.time(), time.time() + 240, 0, 0, False
        while time.time() < deadline:
            time.sleep(1)
            page.keyboard.press("Control+s")
            time.sleep(0.5)
            if path.stat().st_mtime > before:
                cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
                done, total = sum(c.execution_count is not None for c in cells), len(cells)
                if done == total:
                    break
            if not done and not retried and time.time() - start > 30:
                retried = True
                run_all()
        else:
            pytest.fail(f"{name}: not every cell finished within 240 s ({done}/{total})")
        time.sleep(1)  # let late renders (widgets) settle before counting
        saved = nbformat.read(path, as_version=4)
        errors = [o for c in saved.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{name}: {errors[0].ename}: {errors[0].evalue}"
        figures = sum(1 for c in saved.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
        texts = " ".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                         for c in saved.cells for o in c.get("outputs", []))
        # matplotlib warns for every glyph its fonts lack (stderr, checked below); bpcourse.fonts says when it
        # found no Hangul font at all (tests/test_fonts.py shows both happen without one)
        assert "glyph" not in texts and "missing from font" not in texts, f"{name}: a figure lacked a glyph"
        assert NO_FONT not in texts, f"{name}: the kernel found no Hangul font for its figures"
        widgets = sum(1 for c in saved.cells for o in c.get("outputs", []) if WIDGET_MIME in o.get("data", {}))
        stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert stderr.count() == 0, f"{name}: error output on the page: {stderr.first.inner_text()[:300]}"
        assert page.locator(".jp-RenderedImage img").count() >= figures
        assert page.locator(".jp-OutputArea-output .jupyter-widgets.widget-container, "
                            ".jp-OutputArea-output .jupyter-widgets.widget-inline-hbox, "
                            ".jp-OutputArea-output .jupyter-widgets.widget-box").count() >= widgets
        assert "Error displaying widget" not in page.content()
        news = page.get_by_text("Jupyter news")
        assert news.count() == 0, f"{name}: JupyterLab's news prompt is showing: {news.first.inner_text()[:200]}"
    finally:
        page.screenshot(path=str(shots / f"{name}.png"))
        page.close()


@pytest.fixture(scope="module")
def formgrader(tmp_path_factory):
    """A class with three hand-ins of notebook 03 from tests/test_grading.py (correct, tampering, truncated),
    served by JupyterLab with nbgrader's formgrader, not yet graded."""
    from conftest import copy_course
    from test_grading import NAME, _hand_in_all, _hazards

    from bpcourse_instructor.course import release

    root = copy_course(tmp_path_factory.mktemp("formgrader"))
    release(root, [NAME])
    hazards = _hazards()
    _hand_in_all(root, {(NAME, s): hazards[s] for s in FORMGRADER_CASES})
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    with _serve(root, env, root.parent / "formgrader.log") as base:
        yield base, root, NAME


# student -> (the modal the button brings up, the score the formgrader then shows). Stock nbgrader gives the
# tampering hand-in 6 / 6; bpcourse grade overrules its check of MulLayer (tests/test_grading.py).
FORMGRADER_CASES = {"full": ("success-modal", "6 / 6"), "s10_patched_numpy": ("success-modal", "4 / 6"),
                    "s09_truncated": ("error-modal", "0 / 6")}


def test_the_formgrader_autograde_button_grades_as_bpcourse_grade(formgrader, browser):
    """The issue's click: the Autograde button in nbgrader's formgrader, in a real browser, gives each hand-in the
    verdict bpcourse grade gives it, and a hand-in that cannot be graded says so and leaves a page at 0."""
    from nbgrader.api import Gradebook

    from bpcourse_instructor.traces import NOT_GRADED

    base, root, name = formgrader
    shots = Path(os.environ.get("BPCOURSE_SCREENSHOTS", REPO / "build" / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    # The formgrader's own API calls carry no token: the header authenticates every request of the page.
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  extra_http_headers={"Authorization": f"token {TOKEN}"})
    page = context.new_page()
    page.route("**/*", _local_only)
    try:
        page.goto(f"{base}/formgrader/manage_submissions/{name}?token={TOKEN}")
        for student, (modal, score) in FORMGRADER_CASES.items():
            row = page.locator("tr", has=page.locator(".student-id", has_text=student))
            row.locator(".autograde a").click()
            dialog = page.locator(f"#{modal}")
            dialog.wait_for(timeout=180_000)
            said = dialog.inner_text()
            assert "as `bpcourse grade` does" in said, said[:2000]  # the log: bpcourse_instructor.hub graded it
            if modal == "error-modal":
                assert "could not grade" in said and "not valid notebook JSON" in said, said[:2000]
            dialog.locator(".modal-footer button:has-text('OK')").click()
            dialog.wait_for(state="detached", timeout=30_000)
            expect(row.locator(".score")).to_have_text(score, timeout=30_000)
    finally:
        page.screenshot(path=str(shots / "formgrader.png"))
        context.close()
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        overruled = gb.find_comment("mul_layer", name, name, "s10_patched_numpy").auto_comment or ""
        refused = gb.find_comment("mul_layer", name, name, "s09_truncated").auto_comment or ""
    assert "not when the grader ran it again" in overruled, overruled
    assert refused.startswith(NOT_GRADED.split("{")[0]) and "not valid notebook JSON" in refused, refused
