"""What the wheel installs: the library as ``streamlabels`` and the service as
``streamlabels_service``, never a top-level ``service`` package (a name that generic would clash
with any other distribution's module of that name)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
INSTALLED_AS = {"streamlabels": "streamlabels", "service": "streamlabels_service"}  # folder: name


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel built from a copy of the sources (a build leaves build/ and egg-info behind)."""
    source = tmp_path_factory.mktemp("source")
    for path in REPO.iterdir():
        if path.is_file():
            shutil.copy2(path, source)
    for folder in INSTALLED_AS:
        ignored = shutil.ignore_patterns("__pycache__")
        shutil.copytree(REPO / folder, source / folder, ignore=ignored)
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "-w", str(out)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return zipfile.ZipFile(next(out.glob("*.whl")))


def test_the_wheel_installs_no_top_level_service_package(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == set(INSTALLED_AS.values())


def test_every_source_module_is_installed_under_its_package_name(wheel):
    expected = {
        f"{name}/{path.relative_to(REPO / folder).as_posix()}"
        for folder, name in INSTALLED_AS.items()
        for path in (REPO / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert {name for name in wheel.namelist() if name.endswith(".py")} == expected


def test_the_command_line_finds_the_installed_service(wheel):
    metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel.read(metadata).decode())
    target = entry_points["streamlabels.commands"]["service"]
    assert target == "streamlabels_service.commands:add_service_commands"
    assert "streamlabels_service/commands.py" in wheel.namelist()
