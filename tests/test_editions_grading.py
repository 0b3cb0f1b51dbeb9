"""One class, both editions, one `bpcourse grade` run: the same code scores the same through either edition,
and each student reads their feedback and their summary line in the language of the edition they worked in."""

import re
import subprocess
import sys

import nbformat
import pytest
from conftest import REPO, copy_course
from test_autograde import WRONG, _nbgrader, _submission

from bpcourse_instructor.editions import edition_name

# Two notebooks with a classic mistake each (a doubled backward): a layer (03) and a graph (01).
NOTEBOOKS = ["01_computational_graphs", "03_add_mul_nodes"]
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _hand_ins(name: str) -> dict:
    """{kind: notebook}: the solutions, one classic mistake, the untouched release."""
    return {"correct": _submission(name), "onewrong": _submission(name, WRONG[edition_name(name, "en")]),
            "blank": nbformat.read(REPO / "course" / name / f"{name}.ipynb", as_version=4)}


@pytest.fixture(scope="module")
def mixed_class(tmp_path_factory):
    """Each kind of hand-in twice, once per edition, by students kind_en and kind_ko; graded by one command that
    names only the English assignments (the Korean ones join because someone handed them in)."""
    root = copy_course(tmp_path_factory.mktemp("mixed"))
    for english in NOTEBOOKS:
        for language in ("en", "ko"):
            name = edition_name(english, language)
            for kind, nb in _hand_ins(name).items():
                path = root / "submitted" / f"{kind}_{language}" / name / f"{name}.ipynb"
                path.parent.mkdir(parents=True)
                nbformat.write(nb, path)
    from bpcourse_instructor.course import release
    release(root, [edition_name(n, lang) for n in NOTEBOOKS for lang in ("en", "ko")])
    result = subprocess.run([sys.executable, "-m", "bpcourse_instructor.cli", "grade", *NOTEBOOKS, "--workers", "2"],
                            cwd=root, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in [edition_name(n, "ko") for n in NOTEBOOKS]:  # the Korean pages are the ones asserted on
        _nbgrader(root, "generate_feedback", name)
    return root, result.stdout


def _scores(root, name, student):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(name, name, student)
        return {g.name: g.score for g in nb.grades if g.max_score}


@pytest.mark.slow
@pytest.mark.parametrize("english", NOTEBOOKS)
@pytest.mark.parametrize("kind", ["correct", "onewrong", "blank"])
def test_the_same_code_scores_the_same_in_both_editions(mixed_class, english, kind):
    root, _ = mixed_class
    en = _scores(root, english, f"{kind}_en")
    ko = _scores(root, edition_name(english, "ko"), f"{kind}_ko")
    assert en == ko, f"{english}, {kind}: English {en}, Korean {ko}"
    expected = {"correct": "all", "blank": "none", "onewrong": "all but its exercise"}[kind]
    lost = {cell for cell, score in en.items() if not score}
    assert {"all": not lost, "none": lost == set(en),
            "all but its exercise": lost == WRONG[english][2]}[expected], (kind, en)


@pytest.mark.slow
@pytest.mark.parametrize("english", NOTEBOOKS)
def test_korean_feedback_explains_failures_in_korean(mixed_class, english):
    root, _ = mixed_class
    korean = edition_name(english, "ko")
    graded = nbformat.read(root / "autograded" / "onewrong_ko" / korean / f"{korean}.ipynb", as_version=4)
    messages = [o.evalue for c in graded.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert messages, f"{korean}: the spoiled hand-in failed no check"
    for message in messages:
        assert HANGUL.search(message), f"{korean}: a failure message is not in Korean: {message[:300]!r}"
    html = (root / "feedback" / "onewrong_ko" / korean / f"{korean}.html").read_text(encoding="utf-8")
    assert "점수" in html and "grader_tests" not in html
    english_graded = nbformat.read(root / "autograded" / "onewrong_en" / english / f"{english}.ipynb", as_version=4)
    english_messages = [o.evalue for c in english_graded.cells for o in c.get("outputs", [])
                        if o.output_type == "error"]
    assert english_messages and not any(HANGUL.search(m) for m in english_messages), english_messages


@pytest.mark.slow
def test_the_per_exercise_csv_says_which_edition_each_row_is(mixed_class):
    import csv

    root, _ = mixed_class
    with open(root / "grades_by_exercise.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        assert row["edition"] == ("ko" if row["assignment"].endswith("_ko") else "en"), row
        assert row["base_assignment"] == edition_name(row["assignment"], "en"), row
    korean = {(r["base_assignment"], r["student"].split("_")[0], r["grade_id"], r["score"]) for r in rows
              if r["edition"] == "ko"}
    english = {(r["base_assignment"], r["student"].split("_")[0], r["grade_id"], r["score"]) for r in rows
               if r["edition"] == "en"}
    assert korean == english and len(korean) > 10  # one exercise, one score, whichever edition


@pytest.mark.slow
def test_each_summary_line_is_in_its_students_language(mixed_class):
    _, out = mixed_class
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if line.startswith("  ")}
    for english in NOTEBOOKS:
        korean = edition_name(english, "ko")
        assert "감점:" in lines[f"{korean} onewrong_ko"] and "lost:" not in lines[f"{korean} onewrong_ko"], out
        assert "lost:" in lines[f"{english} onewrong_en"], out
        assert f"{korean} blank_ko" in lines and f"{english} correct_en" in lines, out
