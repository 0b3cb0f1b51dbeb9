"""The ways into the student repository besides a clone: Binder, and Colab.

Colab gets a set-up cell first in every exported notebook (not in course/, which stays nbgrader's release)
and a badge per notebook in the student README. Names that end up in student code and in URLs are checked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .course import RELEASE, SOURCE

COLAB_URL = "https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"  # course/NAME/NAME.ipynb
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_URL = "https://mybinder.org/v2/gh/{repo}/HEAD?urlpath=lab/tree/course/{first}/{first}.ipynb"
README_TEMPLATE = {"en": "README.student.md", "ko": "README.student.ko.md"}  # in binder/


def readmes(edition: str) -> list[tuple[str, str]]:
    """(language, file name) of the student READMEs an export of ``edition`` writes."""
    if edition == "both":
        return [("en", "README.md"), ("ko", "README.ko.md")]
    return [(edition, "README.md")]

# --- 3. the ways in: Binder, and Colab (a set-up cell in each notebook, a badge per notebook) -----------------

# The first cell of every exported notebook (not of course/, which stays nbgrader's release). Its id marks it;
# it has no nbgrader metadata, so nbgrader and `bpcourse grade` run it as an ordinary, ungraded cell.
SETUP_CELL_ID = "colab-setup"
COLAB_SETUP = '''\
# Google Colab only: Colab lacks `bpcourse`, this course's helper package, so this cell installs it from the
# course's repository and turns on Colab's support for the course's widgets. Anywhere else (Binder, JupyterHub,
# your own computer) it does nothing and prints nothing. It is not graded: leave it here and run it first.
def _setup_colab(package="bpcourse @ git+https://github.com/{repo}@{branch}"):
    import importlib.util
    import os
    import sys

    if "google.colab" not in sys.modules and not os.environ.get("COLAB_RELEASE_TAG"):
        return  # not in Colab: nothing to do
    did = "bpcourse was already installed"
    if importlib.util.find_spec("bpcourse") is None:
        get_ipython().run_line_magic("pip", f'install --quiet "{package}"')
        importlib.invalidate_caches()
        if importlib.util.find_spec("bpcourse") is None:
            raise RuntimeError(f"could not install {package}: pip says why above; run this cell again")
        did = f"installed {package}"
    from google.colab import output

    output.enable_custom_widget_manager()
    print(f"Colab setup: {did}; widgets enabled.")


_setup_colab()
del _setup_colab
'''
# The Korean edition's set-up cell: the same code, Korean words, and the font its figures draw Hangul with.
_KO_WORDS = {
    COLAB_SETUP.split("\ndef ")[0]: "\n".join([
        "# Google Colab 전용 셀입니다. Colab에는 이 강좌의 도우미 패키지",
        "# `bpcourse`가 없으므로 이 셀이 강좌 저장소에서 설치하고 위젯을 켭니다.",
        "# 그림에 한글을 쓸 글꼴(koreanize-matplotlib의 나눔고딕)도 함께 설치합니다.",
        "# 다른 곳(Binder, JupyterHub, 내 컴퓨터)에서는 아무 일도 하지 않습니다.",
        "# 채점하지 않는 셀입니다. 지우지 말고 먼저 실행하세요."]),
    'package="bpcourse @ git+': 'package="bpcourse[ko] @ git+',
    "# not in Colab: nothing to do": "# Colab이 아니면 할 일이 없습니다",
    '"bpcourse was already installed"': '"bpcourse가 이미 설치되어 있습니다"',
    'f"installed {package}"': 'f"{package}를 설치했습니다"',
    'f"could not install {package}: pip says why above; run this cell again"':
        'f"{package} 설치 실패: 위에 pip가 이유를 보여 줍니다. 이 셀을 다시 실행하세요."',
    'f"Colab setup: {did}; widgets enabled."': 'f"Colab 준비 완료: {did}. 위젯을 켰습니다."',
}
COLAB_SETUP_KO = COLAB_SETUP
for _english, _korean in _KO_WORDS.items():
    assert _english in COLAB_SETUP_KO, _english  # the English cell changed: change its Korean words too
    COLAB_SETUP_KO = COLAB_SETUP_KO.replace(_english, _korean)
# What a GitHub owner/name and a branch may look like: they end up in code students run and in URLs.
_REPO_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/[A-Za-z0-9._-]+")
_BRANCH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def colab_setup_source(repo: str, branch: str = "main", language: str = "en") -> str:
    """The set-up cell for the student repository ``repo`` (owner/name on GitHub): it installs bpcourse from
    ``branch``, the branch the Colab links open, so notebooks and helper package come from the same commit.
    ``language``: the notebook's edition (the Korean cell speaks Korean and installs the Hangul font too)."""
    return (COLAB_SETUP_KO if language == "ko" else COLAB_SETUP).replace("{repo}", repo).replace("{branch}", branch)


def check_names(repo: str, branch: str) -> None:
    if not _REPO_NAME.fullmatch(repo) or repo.endswith((".git", "/.", "/..")):
        raise ValueError(f"--repo {repo!r} is not a GitHub owner/name such as someone/backprop-student")
    if not _BRANCH_NAME.fullmatch(branch) or ".." in branch or branch.endswith(("/", ".lock")):
        raise ValueError(f"--branch {branch!r} is not a git branch name such as main")


def add_setup_cell(path: Path, repo: str, branch: str = "main") -> None:
    """Put the Colab set-up cell first in the notebook at ``path``; every other cell stays as nbgrader wrote it."""
    import nbformat

    from .editions import language_of_notebook

    nb = nbformat.read(path, as_version=4)
    if any(cell.get("id") == SETUP_CELL_ID for cell in nb.cells):
        raise ValueError(f"{path.name} already has a cell with id {SETUP_CELL_ID!r}; rename that cell in {SOURCE}/")
    source = colab_setup_source(repo, branch, language_of_notebook(nb))
    nb.cells.insert(0, nbformat.v4.new_code_cell(source, id=SETUP_CELL_ID))
    nbformat.write(nb, path)


def _cells(path: Path) -> list[dict]:
    """A notebook's cells as plain JSON (also used by the export's checks)."""
    return json.loads(path.read_text(encoding="utf-8")).get("cells", [])


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _title(path: Path) -> str:
    """The notebook's first heading ("01 · Computational graphs (계산 그래프)"), else its name."""
    for cell in _cells(path):
        if cell.get("cell_type") == "markdown":
            for line in _source(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].strip().replace("|", "\\|")
    return path.stem


def _colab_links(course: Path, names: list[str], repo: str, branch: str, language: str = "en") -> str:
    """A Markdown table with an "Open in Colab" badge for every exported notebook."""
    head = "| 노트북 | Colab에서 열기 |" if language == "ko" else "| notebook | open it in Colab |"
    rows = [head, "|---|---|"]
    for name in names:
        for path in sorted((course / name).glob("*.ipynb")):
            url = COLAB_URL.format(repo=repo, branch=branch, path=f"{RELEASE}/{name}/{path.name}")
            rows.append(f"| {_title(path)} | [![Open In Colab]({COLAB_BADGE})]({url}) |")
    return "\n".join(rows)


def student_readme(template: str, course: Path, names: list[str], repo: str, branch: str,
                   language: str = "en") -> str:
    """The student README of one edition (``names``: its exported assignments, in order), from ``template``."""
    first = names[0] if names else "01_computational_graphs"
    filled = {"{binder_url}": BINDER_URL.format(repo=repo, first=first),
              "{colab_links}": _colab_links(course, names, repo, branch, language)}
    absent = [key for key in filled if key not in template]
    if absent:
        raise ValueError(f"binder/{README_TEMPLATE[language]} has no {' or '.join(absent)}: put the placeholder "
                         "back where the student README should show it")
    for key, value in filled.items():
        template = template.replace(key, value)
    return template


