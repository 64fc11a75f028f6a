"""The one atomic JSON write: never half a file, never a replaced record, no temporaries left."""

import json

import pytest

from harness import atomic


def test_write_once_refuses_an_existing_file_and_keeps_it(tmp_path):
    path = atomic.write_json(tmp_path / "d" / "r.json", {"a": 1}, replace=False)
    assert json.loads(path.read_text()) == {"a": 1}
    with pytest.raises(FileExistsError):
        atomic.write_json(path, {"a": 2}, replace=False)
    assert json.loads(path.read_text()) == {"a": 1}
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.json"]


def test_replace_writes_the_new_state(tmp_path):
    path = tmp_path / "sweep.json"
    atomic.write_json(path, {"n": 1}, replace=True)
    atomic.write_json(path, {"n": 2}, replace=True)
    assert json.loads(path.read_text()) == {"n": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.json"]


def test_a_document_that_cannot_be_written_leaves_the_old_file_and_no_temporary(tmp_path):
    path = atomic.write_json(tmp_path / "s.json", {"ok": True}, replace=True)
    with pytest.raises(TypeError):
        atomic.write_json(path, {"bad": object()}, replace=True)
    assert json.loads(path.read_text()) == {"ok": True}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_write_text_writes_once_or_replaces_and_leaves_no_temporary(tmp_path):
    path = atomic.write_text(tmp_path / "m" / "machine.toml", "a = 1\n", replace=False)
    assert path.read_text() == "a = 1\n"
    with pytest.raises(FileExistsError):
        atomic.write_text(path, "a = 2\n", replace=False)
    assert path.read_text() == "a = 1\n"
    atomic.write_text(path, "a = 3\n", replace=True)
    assert path.read_text() == "a = 3\n"
    assert [p.name for p in path.parent.iterdir()] == ["machine.toml"]
