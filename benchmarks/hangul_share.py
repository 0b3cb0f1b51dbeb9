"""How Korean is the Korean edition? The share of Hangul among the letters a student reads in each Korean
notebook (its prose, comments and messages; code, identifiers, formulas, code spans and links aside), and in the
Korean message catalogues its checks and hidden tests answer with.

    python benchmarks/hangul_share.py

A syllable counts as one letter, so a share of 0.8 means about four Hangul syllables for every Latin letter left
(mostly English terms in parentheses at first use, and the names of classes and arguments in the prose).
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bpcourse_instructor.editions import hangul_share, pairs, readable_text  # noqa: E402


def catalogue_text(packages=("bpcourse", "grader_tests", "bpcourse_instructor")) -> dict[str, str]:
    """{catalogue file: the Korean of all its messages, fields aside}."""
    import re

    out = {}
    for package in packages:
        for path in sorted((ROOT / package / "locale" / "ko").glob("*.json")):
            values = json.loads(path.read_text(encoding="utf-8")).values()
            out[f"{package}/{path.stem}"] = re.sub(r"\{[^{}]*\}", " ", "\n".join(values))
    return out


def rows():
    for _, korean in pairs(ROOT):
        nb = json.loads((ROOT / "solutions" / korean / f"{korean}.ipynb").read_text(encoding="utf-8"))
        yield korean, *hangul_share(readable_text(nb))
    for name, text in catalogue_text().items():
        yield f"messages: {name}", *hangul_share(text)


def main() -> None:
    print(f"{'Korean notebook / message catalogue':48} {'Hangul':>7} {'Latin':>7} {'share':>6}")
    total_h = total_l = 0
    for name, h, latin in rows():
        total_h, total_l = total_h + h, total_l + latin
        print(f"{name:48} {h:7d} {latin:7d} {h / max(h + latin, 1):6.2f}")
    print(f"{'all':48} {total_h:7d} {total_l:7d} {total_h / max(total_h + total_l, 1):6.2f}")


if __name__ == "__main__":
    main()
