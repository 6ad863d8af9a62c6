"""The wheel users install holds every module and data file of the source tree.

Builds the wheel from this checkout (as ``pip install .`` does) and compares its file list
with the files under ``schemas/``, ``streams/`` and ``sinks/``, so a new subpackage or data
file can never be left out of what ships (or something unexpected slip in).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "streams", "sinks")
NOT_SHIPPED = {"__pycache__", ".pytest_cache"}


def source_files() -> set[str]:
    """Every file of the three packages that is tracked (or, outside git, on disk)."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--", *PACKAGES], cwd=ROOT, capture_output=True
    )
    if tracked.returncode == 0 and tracked.stdout:
        return {p for p in tracked.stdout.decode().split("\0") if p}
    return {
        str(p.relative_to(ROOT))
        for package in PACKAGES
        for p in (ROOT / package).rglob("*")
        if p.is_file() and not NOT_SHIPPED & set(p.relative_to(ROOT).parts)
        and p.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the tracked files, as from a clean clone.

    (setuptools builds in the source folder's ``build/``, where a moved or deleted module
    would linger and ship.)
    """
    tree = tmp_path_factory.mktemp("tree")
    for name in (*source_files(), "pyproject.toml", "README.md"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--wheel-dir", str(out), str(tree)],
        check=True, capture_output=True,
    )
    (built,) = out.glob("coselling-*.whl")
    return built


def test_the_wheel_holds_exactly_the_source_tree(wheel):
    with zipfile.ZipFile(wheel) as z:
        shipped = {n for n in z.namelist() if ".dist-info/" not in n}
    expected = source_files()
    assert expected, "found no source files"
    assert sorted(expected - shipped) == [], "left out of the wheel"
    assert sorted(shipped - expected) == [], "in the wheel but not in the source tree"


def test_the_wheel_declares_the_console_script(wheel):
    with zipfile.ZipFile(wheel) as z:
        (entry_points,) = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = z.read(entry_points).decode()
    assert "coselling = streams.cli:main" in text
