"""A job that hits a full disk or an unwritable folder ends with one line naming the file, not a traceback; a bug's
OSError keeps its traceback."""

import errno
import os

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


def test_cpu_isa_pins_every_library_where_unset_and_a_job_computes_with_those_kernels(tmp_path):
    """cpu_isa: avx2 (the demo's) sets the three variables unless the user did; a job process started with them
    runs PyTorch's AVX2 kernels and says so in its log (whatever the host offers)."""
    import subprocess
    import sys

    from synrec.cpu_isa import pin

    env = {"MKL_CBWR": "COMPATIBLE"}
    assert pin("avx2", env) == {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert pin("host", {}) == {}
    code = ("import torch, synrec.runlog as r\nwith r.rule_log([sys.argv[1]], 'job'):\n    pass\n")
    log = tmp_path / "job.log"
    out = subprocess.run([sys.executable, "-c", "import sys\n" + code, str(log)], capture_output=True, text=True,
                         env={**os.environ, **pin("avx2", {})})
    assert out.returncode == 0, out.stderr
    assert log.read_text().splitlines()[0] == "[synrec] job started (CPU kernels: AVX2)"
