"""The Colab set-up cell that starts every exported notebook: a no-op anywhere but Colab; in Colab it installs
bpcourse from the student repository when it is missing and enables Colab's widget manager.

The cell runs here with exec() against a stand-in ``get_ipython`` (and once in a real kernel), and against a
stand-in ``google.colab``: nothing is ever installed.
"""

import importlib.abc
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import types

import pytest

from bpcourse_instructor.export import SETUP_CELL_ID, colab_setup_source

REPO_NAME = "someone/backprop"
PACKAGE = f"bpcourse @ git+https://github.com/{REPO_NAME}@main"  # the branch the Colab links open
GOOGLE = ("google", "google.colab", "google.colab.output")


class Shell:
    """A stand-in for IPython's shell: records line magics; ``installs`` makes %pip "install" bpcourse."""

    def __init__(self, events, installs=True):
        self.events, self.installs, self.installed = events, installs, False

    def run_line_magic(self, magic, line):
        self.events.append((magic, line))
        if magic == "pip" and self.installs:
            self.installed = True


def run_cell(shell):
    """Execute the set-up cell as a kernel would, in a fresh namespace; returns the names it left there."""
    namespace = {"__name__": "__main__", "get_ipython": lambda: shell}
    exec(compile(colab_setup_source(REPO_NAME), "<colab-setup>", "exec"), namespace)
    return set(namespace) - {"__name__", "get_ipython", "__builtins__"}


@pytest.fixture
def events():
    return []


@pytest.fixture
def no_real_install(monkeypatch):
    """The cell, run with exec(), cannot reach pip or a shell by itself: only through the stand-in %pip."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"the set-up cell started a process: {args}")

    for name in ("run", "Popen", "call", "check_call", "check_output"):
        monkeypatch.setattr(subprocess, name, refuse)
    monkeypatch.setattr(os, "system", refuse)


@pytest.fixture
def outside_colab(monkeypatch, no_real_install):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    for name in GOOGLE:
        monkeypatch.delitem(sys.modules, name, raising=False)


class _Serve(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the given module objects by name (a stand-in google.colab, importable but not yet imported)."""

    def __init__(self, modules):
        self.modules = modules

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in self.modules else None

    def create_module(self, spec):
        return self.modules[spec.name]

    def exec_module(self, module):
        pass


@pytest.fixture(params=["google.colab imported", "COLAB_RELEASE_TAG set"])
def in_colab(request, monkeypatch, events, no_real_install):
    """Colab, as the cell can tell: google.colab already imported (as Colab's kernel does), or only the
    environment variable set (google.colab then importable, not imported). Its widget switch records its call."""
    output = types.ModuleType("google.colab.output")
    output.enable_custom_widget_manager = lambda: events.append("enable_custom_widget_manager")
    colab = types.ModuleType("google.colab")
    colab.__path__, colab.output = [], output
    google = types.ModuleType("google")
    google.__path__ = []
    saved = {name: sys.modules.pop(name) for name in GOOGLE if name in sys.modules}
    monkeypatch.setattr(sys, "meta_path", [_Serve({"google": google, "google.colab": colab,
                                                   "google.colab.output": output}), *sys.meta_path])
    if request.param == "google.colab imported":
        monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
        importlib.import_module("google.colab")
    else:
        monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20261201-060000_RC00")
    yield
    for name in GOOGLE:
        sys.modules.pop(name, None)
    sys.modules.update(saved)


def without_bpcourse(monkeypatch, shell):
    """find_spec("bpcourse") answers None until the stand-in %pip has "installed" it."""
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "bpcourse" and not shell.installed:
            return None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_the_cell_is_what_the_export_inserts():
    source = colab_setup_source(REPO_NAME)
    assert source.startswith("# Google Colab only:") and "does nothing and prints nothing" in source
    assert f'"{PACKAGE}"' in source and "OWNER/REPO" not in source and "{repo}" not in source
    assert SETUP_CELL_ID == "colab-setup"


def test_outside_colab_the_cell_does_nothing(outside_colab, events, capsys, monkeypatch):
    looked = []
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: looked.append(name) or real(name, *a, **k))
    left = run_cell(Shell(events))
    out = capsys.readouterr()
    assert events == [] and looked == [], f"outside Colab the cell installed or looked for something: {events}"
    assert out.out == "" and out.err == "", out
    assert left == set(), f"the cell left names in the student's namespace: {left}"
    assert not any(name in sys.modules for name in GOOGLE)


def test_in_colab_without_bpcourse_it_installs_it_once_then_enables_widgets(in_colab, events, capsys, monkeypatch):
    shell = Shell(events)
    without_bpcourse(monkeypatch, shell)
    left = run_cell(shell)
    assert [e[0] if isinstance(e, tuple) else e for e in events] == ["pip", "enable_custom_widget_manager"], events
    assert shlex.split(events[0][1]) == ["install", "--quiet", PACKAGE], events[0]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and f"installed {PACKAGE}" in lines[0] and "widgets enabled" in lines[0], lines
    assert left == set()


def test_in_colab_with_bpcourse_it_only_enables_widgets(in_colab, events, capsys):
    assert importlib.util.find_spec("bpcourse") is not None
    run_cell(Shell(events))
    assert events == ["enable_custom_widget_manager"], events
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "already installed" in lines[0] and "widgets enabled" in lines[0], lines


def test_in_colab_a_failed_install_says_so(in_colab, events, monkeypatch):
    shell = Shell(events, installs=False)
    without_bpcourse(monkeypatch, shell)
    with pytest.raises(RuntimeError, match=re.escape(f"could not install {PACKAGE}: pip says why above")):
        run_cell(shell)
    assert events == [("pip", f'install --quiet "{PACKAGE}"')], "widgets were enabled after a failed install"


@pytest.mark.slow
def test_outside_colab_the_cell_is_silent_in_a_real_kernel(tmp_path):
    import nbformat
    from nbrun import errors, execute

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(colab_setup_source(REPO_NAME), id=SETUP_CELL_ID),
                nbformat.v4.new_code_cell("import sys\nprint('google.colab' in sys.modules, '_setup_colab' in dir())")]
    path = tmp_path / "setup.ipynb"
    nbformat.write(nb, path)
    ran = execute(path, timeout=60)
    assert ran.cells[0].outputs == [], ran.cells[0].outputs
    assert not errors(ran.cells[1]) and ran.cells[1].outputs[0].text == "False False\n", ran.cells[1].outputs
