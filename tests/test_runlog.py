"""A job that hits a full disk or an unwritable folder ends with one line naming the file, not a traceback; a bug's
OSError keeps its traceback."""

import errno

import pytest

from synrec.runlog import rule_log


@pytest.mark.parametrize("code, text", [(errno.ENOSPC, "No space left on device"), (errno.EACCES, "Permission denied")])
def test_a_full_disk_or_unwritable_folder_is_one_line_naming_the_file(tmp_path, capsys, code, text):
    log = tmp_path / "job.log"
    with pytest.raises(SystemExit) as e, rule_log([str(log)], "generate demo"):
        raise OSError(code, text, "/scratch/work/shards/00001.h5.partial.h5")
    assert e.value.code == 1
    line = f"/scratch/work/shards/00001.h5.partial.h5: {text}"
    assert capsys.readouterr().err.strip() == f"synrec error in generate demo: {line}"
    assert f"error: {line}" in log.read_text() and "Traceback" not in log.read_text()


def test_other_os_errors_keep_their_traceback(tmp_path):
    log = tmp_path / "job.log"
    with pytest.raises(FileNotFoundError), rule_log([str(log)], "features"):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/x")
    assert "Traceback" in log.read_text()
