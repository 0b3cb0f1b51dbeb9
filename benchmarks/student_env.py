"""Measure the student environment: a fresh venv with binder/requirements.txt plus postBuild.

Prints the install time and the venv's size on disk (what a student's Binder image or laptop carries
beyond Python itself; JupyterLab comes with Binder's base image and is measured separately).

Usage: python benchmarks/student_env.py [--with-jupyterlab]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2 ** 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-jupyterlab", action="store_true", help="also install jupyterlab (as on a laptop)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env_dir = Path(tmp) / "env"
        venv.EnvBuilder(with_pip=True).create(env_dir)
        base = size_mb(env_dir)
        env = {**os.environ, "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}",
               "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        steps = [["python", "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
                 ["bash", "binder/postBuild"]]
        if args.with_jupyterlab:
            steps.append(["python", "-m", "pip", "install", "-q", "jupyterlab"])
        start = time.perf_counter()
        for step in steps:
            subprocess.run(step, cwd=REPO, env=env, check=True)
            print(f"done: {' '.join(step)} ({time.perf_counter() - start:.1f} s)", flush=True)
        seconds = time.perf_counter() - start
        total = size_mb(env_dir)
        print(f"install_seconds={seconds:.1f} venv_mb={total:.0f} added_mb={total - base:.0f}")


if __name__ == "__main__":
    sys.exit(main())
