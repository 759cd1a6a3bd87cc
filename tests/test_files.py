"""The one atomic writer: whole files or none, the previous file kept through errors and kills."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from streamlabels.files import FAULT_VARIABLE, place, remove_stale, write_atomic

REPO = Path(__file__).resolve().parents[1]
OLD, NEW = b"old contents\n", bytes(range(256)) * 16


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_atomic_replaces_the_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "model.state"
    target.write_bytes(OLD)
    assert write_atomic(target, NEW, mode=0o640) == target
    assert target.read_bytes() == NEW and _mode(target) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.state"]


def test_a_failed_write_keeps_the_previous_file_and_deletes_its_temporary_file(tmp_path):
    target = tmp_path / "model.state"
    target.write_bytes(OLD)
    with pytest.raises(TypeError):
        write_atomic(target, "text, not bytes")
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.state"]


def test_place_moves_a_finished_file_over_the_target(tmp_path):
    (tmp_path / "staging").mkdir()
    source, target = tmp_path / "staging" / "built.gz", tmp_path / "data.gz"
    source.write_bytes(NEW)
    os.chmod(source, 0o600)
    target.write_bytes(OLD)
    assert place(source, target) == target
    assert target.read_bytes() == NEW and _mode(target) == 0o644
    assert not source.exists()


def test_remove_stale_deletes_only_the_temporary_files_of_matching_targets(tmp_path):
    names = [".a-1.state.x1y2.tmp", ".a-2.state.k9.tmp", ".b.state.x1.tmp", "a-1.state", ".a-1.tmp"]
    for name in names:
        (tmp_path / name).write_bytes(OLD)
    removed = remove_stale(tmp_path, "a-*.state")
    assert [p.name for p in removed] == [".a-1.state.x1y2.tmp", ".a-2.state.k9.tmp"]
    kept = [".a-1.tmp", ".b.state.x1.tmp", "a-1.state"]
    assert sorted(p.name for p in tmp_path.iterdir()) == kept


_CHILD = (  # writes NEW
    "import sys; from streamlabels.files import write_atomic; "
    "write_atomic(sys.argv[1], bytes(range(256)) * 16)"
)


@pytest.mark.parametrize(
    ("fault", "target_holds", "temporary_holds"),
    [
        ("byte:0", OLD, b""),
        ("byte:1", OLD, NEW[:1]),
        ("byte:2500", OLD, NEW[:2500]),
        (f"byte:{len(NEW) - 1}", OLD, NEW[:-1]),
        ("before-rename", OLD, NEW),
        ("after-rename", NEW, None),
    ],
)
def test_the_fault_hook_kills_the_writer_at_the_point_it_names(
    tmp_path, fault, target_holds, temporary_holds
):
    target = tmp_path / "model.state"
    target.write_bytes(OLD)
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(target)],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), FAULT_VARIABLE: fault},
        capture_output=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    assert target.read_bytes() == target_holds
    temporary = list(tmp_path.glob(".model.state.*.tmp"))
    expected = [] if temporary_holds is None else [temporary_holds]
    assert [p.read_bytes() for p in temporary] == expected
    assert remove_stale(tmp_path) == temporary


def test_a_fault_point_at_the_kth_file_lets_the_earlier_files_complete(tmp_path):
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from streamlabels.files import write_atomic\n"
            "for name in 'abc': write_atomic(sys.argv[1] + '/' + name, b'data')",
            str(tmp_path),
        ],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), FAULT_VARIABLE: "before-rename@2"},
        capture_output=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    assert [p.name.split(".")[1] for p in remove_stale(tmp_path)] == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["a"]

def test_a_mistyped_fault_point_is_refused_rather_than_ignored(tmp_path, monkeypatch):
    for mistyped in ("byte:-3", "before_rename", "after-rename@", "byte:7@two"):
        monkeypatch.setenv(FAULT_VARIABLE, mistyped)
        with pytest.raises(ValueError, match="expected byte:N, before-rename or after-rename"):
            write_atomic(tmp_path / "x", NEW)
    assert list(tmp_path.iterdir()) == []
