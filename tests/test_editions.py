"""The English and the Korean edition are twins (bpcourse_instructor.editions), and the Korean one speaks the
glossary's Korean (bpcourse/locale/glossary.tsv)."""

import csv
import json
import re

import pytest
from conftest import REPO

from bpcourse_instructor.course import assignments
from bpcourse_instructor.editions import code_tokens, differences, english_name, language_of_notebook, pairs

PAIRS = pairs(REPO)
ENGLISH = [n for n in assignments(REPO) if english_name(n) == n]
GLOSSARY = list(csv.DictReader((REPO / "bpcourse" / "locale" / "glossary.tsv").open(encoding="utf-8"),
                               delimiter="\t"))
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# The terms the issue and the seeds name first: each is introduced with its English term in parentheses.
CORE_TERMS = ["순전파", "역전파", "계산 그래프", "연쇄법칙", "국소적 계산", "기울기", "수치 미분", "가중치", "편향",
              "손실 함수", "미니배치", "Affine 계층", "정답 레이블", "오차역전파법"]


def _nb(kind: str, name: str) -> dict:
    return json.loads((REPO / kind / name / f"{name}.ipynb").read_text(encoding="utf-8"))


def _markdown(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_every_notebook_has_a_korean_edition():
    assert ENGLISH, "no English assignments under solutions/"
    assert [en for en, _ in PAIRS] == ENGLISH, "an English notebook has no Korean twin <name>_ko in solutions/"


@pytest.mark.parametrize("kind", ["solutions", "course"])
@pytest.mark.parametrize("english,korean", PAIRS)
def test_the_two_editions_are_twins(kind, english, korean):
    """Same cells, ids, nbgrader metadata, code token by token (comments and strings aside), markers and math:
    in the sources and in nbgrader's release of them."""
    found = differences(_nb(kind, english), _nb(kind, korean))
    assert not found, f"{kind}/{korean} has drifted from {kind}/{english}:\n" + "\n".join(found)


@pytest.mark.parametrize("english,korean", PAIRS)
def test_the_korean_notebook_says_which_edition_it_is(english, korean):
    nb = _nb("solutions", korean)
    assert language_of_notebook(nb) == "ko" and nb["metadata"]["bpcourse"]["edition_of"] == english
    assert language_of_notebook(_nb("solutions", english)) == "en"
    setup = "".join(next(c for c in nb["cells"] if c["cell_type"] == "code")["source"])
    assert 'bpcourse.set_language("ko")' in setup, "the Korean set-up cell must choose Korean"


def test_the_twin_check_catches_drift():
    """The check itself: a changed number, a changed name, a moved marker and changed math are all differences;
    a translated comment or message is not."""
    code = 'def f(x):\n    """Double x."""\n    ### BEGIN SOLUTION\n    return 2 * x  # twice\n    ### END SOLUTION\n'
    assert code_tokens(code) == code_tokens(code.replace("Double x.", "x를 두 배로").replace("# twice", "# 두 배"))
    assert code_tokens('print(f"{a} and {b}")') == code_tokens('print(f"{b}와 {a}")')
    for changed in (code.replace("2 *", "3 *"), code.replace("def f", "def g"),
                    code.replace("    ### END SOLUTION\n", "").replace("return", "### END SOLUTION\n    return")):
        assert code_tokens(code) != code_tokens(changed)
    cell = {"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["Here $x^2$ counts."]}
    en = {"metadata": {}, "cells": [cell]}
    ko = {"metadata": {"bpcourse": {"language": "ko"}}, "cells": [dict(cell, source=["여기서 $x^3$이 중요합니다."])]}
    assert any("math" in d for d in differences(en, ko))
    ko["cells"][0]["source"] = ["여기서 $x^2$이 중요합니다."]
    assert differences(en, ko) == []


def test_the_glossary_fixes_each_term_once():
    english = [row["english"].lower() for row in GLOSSARY]
    korean = [row["korean"] for row in GLOSSARY]
    assert len(set(english)) == len(english), "an English term appears twice in the glossary"
    assert len(set(korean)) == len(korean), "a Korean term stands for two English terms in the glossary"
    for term in CORE_TERMS:
        assert term in korean, f"{term} is missing from the glossary"


def test_the_english_notebooks_name_the_glossary_terms():
    """Where an English notebook shows a term's Korean in parentheses, it is the glossary's Korean."""
    terms = {row["english"].lower(): row["korean"] for row in GLOSSARY}
    wrong = []
    for name in ENGLISH:
        for english, korean in re.findall(r"([A-Za-z][A-Za-z -]*?) \(([\uac00-\ud7a3][^)]*)\)",
                                          _markdown(_nb("solutions", name))):
            key = english.lower().strip()
            key = key if key in terms else key.rstrip("s")
            if key in terms and " ".join(korean.split()) != terms[key] and terms[key] not in korean:
                wrong.append(f"{name}: {english} ({korean}), the glossary says {terms[key]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("english,korean", PAIRS)
def test_the_korean_notebook_keeps_to_the_glossary(english, korean):
    """No word the glossary rules out, and each core term's first use in the prose carries its English term."""
    nb = _nb("solutions", korean)
    prose = _markdown(nb)
    text = prose + "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    avoided = []
    for row in GLOSSARY:
        for word in filter(None, row["avoid"].split("|")):
            # a glossary term may contain an avoided word (서브그래디언트 holds 그래디언트): those uses are fine
            rest = text
            for other in GLOSSARY:
                if word in other["korean"]:
                    rest = rest.replace(other["korean"], " ")
            if word in rest:
                avoided.append(f"{row['korean']} (not {word})")
    assert not avoided, f"{korean} uses words the glossary rules out: {avoided}"
    bare = []
    for term in CORE_TERMS:
        at = prose.find(term)
        after, before = prose[at + len(term):], prose[max(0, at - 60):at]
        # "기울기(gradient)", "가중치 감소**(weight decay)" (inside a longer term), or "weight (가중치" (English first)
        if at >= 0 and not (re.match(r"[\uac00-\ud7a3 *]{0,10}\(\s*\*{0,2}[A-Za-z]", after)
                            or re.search(r"[A-Za-z][A-Za-z -]*\*{0,2}\s*\(\s*\*{0,2}$", before)):
            bare.append(f"{term}: {prose[max(0, at - 20):at + len(term) + 30]!r}")
    assert not bare, f"{korean} first uses these terms without the English in parentheses:\n" + "\n".join(bare)


@pytest.mark.parametrize("english,korean", PAIRS)
def test_a_korean_notebook_is_mostly_korean(english, korean):
    """The share of Hangul among the letters a student reads (benchmarks/hangul_share.py prints them all): English
    is left for code names, the English term beside a term's first use, and quoted sources. The English twin
    shows how low it would be with the prose untranslated."""
    from bpcourse_instructor.editions import hangul_share, readable_text

    h, latin = hangul_share(readable_text(_nb("solutions", korean)))
    he, latin_e = hangul_share(readable_text(_nb("solutions", english)))
    share, english_share = h / (h + latin), he / (he + latin_e)
    print(f"{korean}: Hangul {share:.2f} of the letters (the English edition: {english_share:.2f})")
    assert share >= 0.7 > english_share, (share, english_share)
