import pytest

from synrec.atomic import atomic_path, write_json


def test_failed_write_leaves_nothing_behind(tmp_path):
    out = tmp_path / "sub" / "x.h5"
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("half")
            assert tmp.suffix == ".h5" and tmp.parent == out.parent
            raise RuntimeError("killed")
    assert list(out.parent.iterdir()) == []


def test_successful_write_replaces_the_target(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("old")
    write_json(out, {"a": 1})
    assert out.read_text() == '{\n  "a": 1\n}\n' and [p.name for p in tmp_path.iterdir()] == ["r.json"]
