"""Atomic writes: complete or absent, with a normal file mode."""

import stat

import pytest

from builder.io import atomic_path, write_text_atomic


def test_written_file_is_complete_and_readable_by_others(tmp_path):
    target = tmp_path / "sub" / "file.json"
    write_text_atomic(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert target.stat().st_mode & stat.S_IROTH
    assert list(target.parent.iterdir()) == [target]


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
