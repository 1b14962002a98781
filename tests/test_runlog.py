"""A job that hits a full disk or an unwritable folder ends with one line naming the file, not a traceback; a bug's
OSError keeps its traceback."""

import errno
import os

import pytest

from synrec.runlog import rule_log


@pytest.mark.parametrize("code, text", [(errno.EACCES, "Permission denied"), (errno.EROFS, "Read-only file system")])
def test_an_unwritable_folder_is_one_line_naming_the_file(tmp_path, capsys, code, text):
    log = tmp_path / "job.log"
    with pytest.raises(SystemExit) as e, rule_log([str(log)], "generate demo"):
        raise OSError(code, text, "/scratch/work/shards/00001.h5.partial.h5")
    assert e.value.code == 1
    line = f"/scratch/work/shards/00001.h5.partial.h5: {text}"
    assert capsys.readouterr().err.strip() == f"synrec error in generate demo: {line}"
    assert f"error: {line}" in log.read_text() and "Traceback" not in log.read_text()


HDF5_ENOSPC = ("Can't write data (file write failed: time = Mon Dec  7 10:00:00 2026\n, filename = '{f}', file "
               "descriptor = 5, errno = 28, error message = 'No space left on device', buf = 0x55d0, total write size "
               "= 8192, bytes this sub-write = 8192, bytes actually written = 18446744073709551615, offset = 0)")


@pytest.mark.parametrize("raise_it", ["OSError(errno.ENOSPC, 'No space left on device', F)",
                                      "RuntimeError(HDF5_ENOSPC.format(f=F))"])
def test_a_full_disk_is_one_line_with_the_free_space_and_the_job_ends_at_once(tmp_path, raise_it):
    """Issue 32: h5py reports a full disk as a RuntimeError whose message holds errno 28, not as an OSError; either
    way the job ends with one line naming the file and the free space, exit status 1, nothing after it (HDF5
    closing the file at exit once crashed a job with SIGSEGV after its error line)."""
    import subprocess
    import sys

    f = str(tmp_path / "work" / "features" / "test.h5")
    code = (f"import errno, sys\nfrom synrec.runlog import rule_log\nfrom test_runlog import HDF5_ENOSPC\nF = {f!r}\n"
            f"with rule_log([sys.argv[1]], 'features demo'):\n    raise {raise_it}\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "job.log")], capture_output=True, text=True,
                         cwd=os.path.dirname(__file__))
    assert out.returncode == 1, out.stderr
    line = out.stderr.strip()
    assert "\n" not in line and line.startswith(f"synrec error in features demo: {f}: No space left on device (")
    assert line.endswith(f"GiB free on {tmp_path})")  # the nearest folder that exists
    assert "Traceback" not in (tmp_path / "job.log").read_text()


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


@pytest.mark.parametrize("where", ["in the job", "in the imports"])
def test_ctrl_c_is_one_line_per_job_not_a_traceback(tmp_path, where):
    """Issue 32: SIGINT printed about 230 lines, KeyboardInterrupt tracebacks among them; a job now says one line,
    whether the interrupt comes inside rule_log's block or before it (scripts import _synrec_path first)."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    scripts = Path(__file__).resolve().parent.parent / "scripts"
    # SIGINT's default handler first: a process started in the background (nohup ... &, some CI runners) inherits
    # SIGINT ignored, and then no KeyboardInterrupt comes at all
    body = ("import os, signal, sys\nsignal.signal(signal.SIGINT, signal.default_int_handler)\nimport _synrec_path\n"
            + ("from synrec.runlog import rule_log\nwith rule_log([sys.argv[1]], 'features demo'):\n    "
               if where == "in the job" else "")
            + "os.kill(os.getpid(), signal.SIGINT)\n")
    out = subprocess.run([sys.executable, "-c", body, str(tmp_path / "job.log")], capture_output=True, text=True,
                         cwd=scripts)
    assert out.returncode in (130, -signal.SIGINT), (out.returncode, out.stderr)
    line = "synrec: features demo interrupted" if where == "in the job" else "synrec: job interrupted"
    assert out.stderr.strip() == line, out.stderr


def test_a_named_generators_own_batch_size_and_job_split_win_over_the_generation_section():
    from types import SimpleNamespace

    from synrec.runlog import throughput_settings

    smk = SimpleNamespace(config={
        "generation": {"batch_size": 16, "classes_per_job": 1, "background_encode": True, "guidance_scale": 3.0},
        "generators": {"flux": {"model": "x", "generation": {"batch_size": 4, "classes_per_job": 8,
                                                                "guidance_scale": 3.5}}}})
    assert throughput_settings(smk, "generation") == {"batch_size": 16, "classes_per_job": 1,
                                                      "background_encode": True}
    assert throughput_settings(smk, "generation", "flux") == {"batch_size": 4, "classes_per_job": 8,
                                                              "background_encode": True}


def test_a_job_says_in_its_first_line_when_the_hub_is_online_and_the_workflow_sets_it_offline(tmp_path, monkeypatch):
    from synrec.models import offline_jobs

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with rule_log([str(tmp_path / "a.log")], "job"):
        pass
    assert "Hugging Face hub online: this job may download" in (tmp_path / "a.log").read_text().splitlines()[0]
    env = {}
    assert offline_jobs(env) == "1" and env == {"HF_HUB_OFFLINE": "1"}  # what the workflow does at parse time
    assert offline_jobs({"HF_HUB_OFFLINE": "0"}) == "0"  # a user who wants the hub online keeps it
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with rule_log([str(tmp_path / "b.log")], "job"):
        pass
    assert "online" not in (tmp_path / "b.log").read_text()
