"""Every message template has its Korean, with the same fields; the language follows the edition."""

import ast
import json
import re
import string
from pathlib import Path

import pytest
from conftest import REPO

from bpcourse import i18n

PACKAGES = ["bpcourse", "grader_tests", "bpcourse_instructor"]
CALLS = {"tr", "tr_figure", "N_", "translate", "_"}  # functions whose first argument is a template
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def templates(package: str) -> dict[str, str]:
    """{template: where} for every constant template passed to tr/tr_figure/N_/translate in ``package``."""
    found = {}
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in CALLS and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.setdefault(node.args[0].value, f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def catalogue(package: str) -> dict[str, str]:
    merged = {}
    for path in sorted((REPO / package / "locale" / "ko").glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def fields(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


def test_templates_are_constants():
    """tr(f"...") would look up a different key every time: the template must be a plain string."""
    bad = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("tr", "N_")
                        and node.args and isinstance(node.args[0], ast.JoinedStr)):
                    bad.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not bad, f"f-strings passed as templates: {bad}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_template_has_its_korean(package):
    found, korean = templates(package), {**catalogue("bpcourse"), **catalogue(package)}
    missing = [f"{where}: {text!r}" for text, where in found.items() if text not in korean]
    assert not missing, f"{len(missing)} templates have no Korean in {package}/locale/ko/:\n" + "\n".join(missing)
    wrong = [f"{where}: {text!r} -> {korean[text]!r}" for text, where in found.items()
             if fields(text) != fields(korean[text])]
    assert not wrong, "the Korean must use exactly the English template's fields:\n" + "\n".join(wrong)


@pytest.mark.parametrize("package", PACKAGES)
def test_the_catalogue_holds_no_stale_entry_and_is_korean(package):
    used = {t for p in PACKAGES for t in templates(p)}
    stale = [t for t in catalogue(package) if t not in used]
    assert not stale, f"{package}/locale/ko/ has entries no code uses any more (remove them): {stale[:10]}"
    english = [t for t, k in catalogue(package).items() if HANGUL.search(t) is None and not HANGUL.search(k)
               and re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", k)]
    assert not english, f"entries left in English: {english[:10]}"


def test_the_same_english_is_translated_the_same_way_everywhere():
    seen, clash = {}, []
    for package in PACKAGES:
        for path in sorted((REPO / package / "locale" / "ko").glob("*.json")):
            for text, korean in json.loads(path.read_text(encoding="utf-8")).items():
                if text in seen and seen[text][0] != korean:
                    clash.append(f"{text!r}: {seen[text][1]} and {path.name} differ")
                seen.setdefault(text, (korean, path.name))
    assert not clash, "\n".join(clash)


def test_the_language_follows_set_language_and_using():
    import bpcourse_instructor  # noqa: F401 - registers its catalogue

    saved = list(i18n._chosen)
    try:
        i18n._chosen[:] = []
        assert i18n.language() == "en"
        text = next(iter(catalogue("bpcourse_instructor")))
        i18n.set_language("ko")
        assert i18n.tr(text) == catalogue("bpcourse_instructor")[text] != text
        with i18n.using("en"):
            assert i18n.tr(text) == text
        assert i18n.language() == "ko"
        with pytest.raises(ValueError, match="one of en, ko"):
            i18n.set_language("kr")
    finally:
        i18n._chosen[:] = saved


def test_a_template_without_fields_keeps_its_braces():
    assert i18n.translate("use {} as a dict", "en") == "use {} as a dict"
    assert i18n.translate("{a} and {b}", "en", a=1, b=2) == "1 and 2"


def test_catalogues_are_json_objects_of_strings():
    for package in PACKAGES:
        for path in sorted(Path(REPO / package / "locale" / "ko").glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            assert isinstance(data, dict), path
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()), path

def _recorded(check, *args, language: str) -> dict:
    """The transcript ``check`` emits in a kernel whose notebook chose ``language``."""
    from grader_tests import _replay

    emitted = []
    saved = _replay._emit
    _replay._emit = lambda name, entries: emitted.append(_replay.pack(name, entries))
    try:
        with i18n.using(language), pytest.MonkeyPatch.context() as mp:
            mp.setenv(_replay.ENV, "1")
            mp.delenv(_replay.CROSSCHECK, raising=False)
            check(*args)
    finally:
        _replay._emit = saved
    return emitted[0]


@pytest.mark.parametrize("recorded", ["ko", "en"])
@pytest.mark.parametrize("judged", ["ko", "en"])
def test_a_check_recorded_in_one_language_replays_in_any(recorded, judged):
    """The calls of a transcript are keyed by their descriptions, which are translated: the judge replays a
    transcript in the language it was recorded in, whatever the notebook's metadata or its own language say."""
    import numpy as np
    from nbformat.v4 import new_code_cell, new_output

    from bpcourse_instructor.judge import verdict
    from grader_tests import _replay, nb06

    class SoftmaxWithLoss:
        def forward(self, x, t):
            e = np.exp(x - np.max(x, axis=-1, keepdims=True))
            self.y, self.t = e / e.sum(axis=-1, keepdims=True), t
            rows = np.arange(len(x))
            picked = self.y[rows, t] if t.ndim == 1 else np.sum(self.y * t, axis=-1)
            return -np.mean(np.log(picked + 1e-7))

        def backward(self, dout=1):
            t = self.t if self.t.ndim > 1 else np.eye(self.y.shape[-1])[self.t]
            return dout * (self.y - t) / len(self.y)

    payload = _recorded(nb06.check_softmax_with_loss, SoftmaxWithLoss, language=recorded)
    assert payload["language"] == recorded
    cell = new_code_cell("from grader_tests import nb06\nnb06.check_softmax_with_loss(SoftmaxWithLoss)",
                         outputs=[new_output("display_data", data={_replay.MIME: payload})])
    with i18n.using(judged):
        assert verdict(cell) is None
    # Without the recorded language the judge still finds it: it replays in each language until the calls fit.
    del cell.outputs[0].data[_replay.MIME]["language"]
    with i18n.using(judged):
        assert verdict(cell) is None
    with i18n.using(judged):  # and a transcript of another check's calls fits in no language
        entries = _replay.unpack(payload)[1]
        assert _replay.judge("nb06.check_softmax_with_loss", entries[1:], 1) is not None
