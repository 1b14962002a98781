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


def test_a_folder_that_cannot_take_a_file_is_one_line_naming_its_key_before_the_run(tmp_path):
    """Issue 32: a read-only results/ once gave a 100-line PermissionError at the end of a run; the workflow now
    checks work_dir and results_dir while it is parsed (/proc takes no new file, whoever runs the test)."""
    import subprocess
    import sys

    import pytest
    from conftest import copy_workflow

    from synrec.atomic import check_writable
    from synrec.errors import SynrecError

    check_writable({"work_dir": tmp_path / "not/made/yet", "results_dir": tmp_path})  # fine: nothing left behind
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SynrecError, match=r"^key 'results_dir': /proc/synrec-results is not writable \(/proc: "):
        check_writable({"work_dir": tmp_path, "results_dir": "/proc/synrec-results"})
    wf = copy_workflow(tmp_path / "wf")
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", "config/demo.yaml", "--config",
                          "results_dir=/proc/synrec-results"], cwd=wf, capture_output=True, text=True)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("synrec: key 'results_dir': /proc/synrec-results is not")
