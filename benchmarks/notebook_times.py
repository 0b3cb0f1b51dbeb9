"""Print how long each solution notebook takes to run top to bottom (target: under 10 s each; 07 under 90 s,
08 under 60 s).

Usage: python benchmarks/notebook_times.py [NAME ...]
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]


def run(path: Path) -> tuple[float, int]:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    failed = sum(1 for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error")
    return seconds, failed


def main(names: list[str]) -> None:
    paths = sorted((REPO / "solutions").glob("*/*.ipynb"))
    if names:
        paths = [p for p in paths if p.stem in names]
    for path in paths:
        seconds, failed = run(path)
        print(f"{path.stem:28s} {seconds:6.1f} s  {'OK' if not failed else f'{failed} cells with errors'}",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
