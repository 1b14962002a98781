"""The run-level manifest machinery (synrec.manifest_run): the refresh before the DAG is built, the listing of
missing content and the stop before submission, on small folders and stand-in Snakemake jobs."""

import os
from types import SimpleNamespace

import pytest
from conftest import SHAPES, dataset_cfg

from synrec import demo_data, manifest
from synrec.errors import SynrecError
from synrec.manifest_run import (
    dry_run_requested,
    missing_content,
    model_manifest_path,
    model_roles,
    refresh_all,
    source_split,
    spec_of,
    stop_message,
)


def _world(tmp_path, counts=12):
    demo_data.write_coop_split(tmp_path / "ds", SHAPES, {"test": 3}, "s.json")
    cfg = dataset_cfg("coop_split", images="images", split_file="s.json") | {"counts": {"test": counts}}
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"w" * 64)
    for f in (model / "weights.bin", model):  # weights of long ago
        os.utime(f, ns=(10**18, 10**18))
    return cfg, {"text_to_image": {"model": str(model)}}


def _refresh(tmp_path, cfg, roles, dry_run=False):
    return refresh_all(tmp_path / "manifests", roles, {cfg["name"]: cfg}, {cfg["name"]: ["test"]}, tmp_path,
                       lambda d, s: source_split(cfg, s, "train", "val"), lambda d: cfg, dry_run=dry_run)


def _dates(root):
    return {p: p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


def test_refresh_adopts_content_dated_at_its_own_time_then_redates_only_what_changed(tmp_path):
    cfg, roles = _world(tmp_path)
    assert _refresh(tmp_path, cfg, roles) == {}
    model_m = model_manifest_path(tmp_path / "manifests", "text_to_image", roles["text_to_image"])
    data_m = tmp_path / "manifests/data/t_coop_split/test.json"
    assert model_m.stat().st_mtime_ns == 10**18  # adopted: dated at the weights' time, so nothing made since reruns
    assert manifest.identity(data_m)["images"] == 12
    dated = data_m.stat().st_mtime_ns
    assert _refresh(tmp_path, cfg, roles) == {} and data_m.stat().st_mtime_ns == dated  # nothing changed
    (tmp_path / "model/weights.bin").write_bytes(b"v" * 64)  # other weights: the model's manifest is rewritten
    assert _refresh(tmp_path, cfg, roles) == {} and model_m.stat().st_mtime_ns > 10**18
    assert data_m.stat().st_mtime_ns == dated


def test_two_models_for_one_role_never_share_a_manifest_so_switching_back_reruns_nothing(tmp_path):
    """Issue 32: a run naming another model (a typo, a trial) and then the first again must leave the first model's
    manifest, and so the date of everything made from it, as it was."""
    cfg, roles = _world(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "weights.bin").write_bytes(b"o" * 64)
    _refresh(tmp_path, cfg, roles)
    first = model_manifest_path(tmp_path / "manifests", "text_to_image", roles["text_to_image"])
    dated = first.stat().st_mtime_ns
    second = {"text_to_image": {"model": str(other)}}
    _refresh(tmp_path, cfg, second)
    path2 = model_manifest_path(tmp_path / "manifests", "text_to_image", second["text_to_image"])
    assert path2 != first and path2.is_file() and first.stat().st_mtime_ns == dated
    assert manifest.identity(path2) != manifest.identity(first)
    _refresh(tmp_path, cfg, roles)
    assert first.stat().st_mtime_ns == dated  # back to the first model: its manifest is as it was


def test_a_dry_run_creates_no_manifest_but_records_changed_content_so_its_plan_is_the_real_one(tmp_path, capsys):
    cfg, roles = _world(tmp_path)
    assert _refresh(tmp_path, cfg, roles, dry_run=True) == {}
    assert not (tmp_path / "manifests").exists()  # nothing adopted in a dry run: a trial config leaves no file
    _refresh(tmp_path, cfg, roles)
    before = _dates(tmp_path / "manifests")
    model_m = model_manifest_path(tmp_path / "manifests", "text_to_image", roles["text_to_image"])
    assert _refresh(tmp_path, cfg, roles, dry_run=True) == {} and _dates(tmp_path / "manifests") == before
    (tmp_path / "model/weights.bin").write_bytes(b"v" * 64)  # other weights: the plan must show what reruns
    capsys.readouterr()
    assert _refresh(tmp_path, cfg, roles, dry_run=True) == {}
    assert model_m.stat().st_mtime_ns > before[model_m] and "content changed" in capsys.readouterr().err
    cfg_bad = cfg | {"counts": {"test": 13}}  # a failing split: said in a dry run too, where no stop comes
    (tmp_path / "manifests/data/t_coop_split/test.json").unlink()
    problems = _refresh(tmp_path, cfg_bad, roles, dry_run=True)
    assert list(problems) == [str(tmp_path / "manifests/data/t_coop_split/test.json")]
    assert "a real run would stop on" in capsys.readouterr().err


def test_dry_run_is_read_from_a_snakemake_command_line_only():
    assert dry_run_requested(["/x/bin/snakemake", "-np", "--cores", "2"])
    assert dry_run_requested(["/x/site-packages/snakemake/__main__.py", "--dry-run", "results/table1.csv"])
    assert not dry_run_requested(["/x/bin/snakemake", "--cores", "2", "results/table1.csv"])
    assert not dry_run_requested(["/x/bin/pytest", "-n", "2"])  # not snakemake: its -n is not a dry run
    assert not dry_run_requested([])


def test_the_manifest_rule_refuses_a_key_that_is_not_the_configured_models():
    roles = {"clip-RN50": {"model": "RN50", "pretrained": "openai"}}
    key = manifest.model_key(roles["clip-RN50"])
    assert spec_of(roles, "clip-RN50", key) == roles["clip-RN50"]
    assert key != manifest.model_key({"model": "RN50", "pretrained": "yfcc15m"}) and len(key) == 12
    with pytest.raises(SynrecError, match="not that of the model the config names"):
        spec_of(roles, "clip-RN50", "0" * 12)


def test_content_gone_after_its_manifest_was_made_invalidates_it_until_it_is_back_as_it_was(tmp_path, capsys):
    """Issue 32: a split's image deleted after results were made from it: the manifest no longer stands for content
    that is there (so what was made from it is out of date, and the run stops); the image restored, the manifest is
    as it was, date included (so nothing reruns)."""
    import json
    import shutil

    cfg, roles = _world(tmp_path)
    _refresh(tmp_path, cfg, roles)
    path = tmp_path / "manifests/data/t_coop_split/test.json"
    before, dated = path.read_text(), path.stat().st_mtime_ns
    image = next(p for p in sorted((tmp_path / "ds").rglob("*")) if p.suffix in manifest.IMAGE_SUFFIXES)
    shutil.copy2(image, tmp_path / "kept")
    image.unlink()
    problems = _refresh(tmp_path, cfg, roles)
    assert list(problems) == [str(path)] and "content unavailable" in capsys.readouterr().err
    assert "unavailable" in manifest.identity(path) and path.stat().st_mtime_ns > dated
    assert _refresh(tmp_path, cfg, roles) and "unavailable" in manifest.identity(path)  # still gone: still out of date
    shutil.copy2(tmp_path / "kept", image)
    assert _refresh(tmp_path, cfg, roles) == {}
    assert manifest.identity(path) == json.loads(before)["identity"] and path.stat().st_mtime_ns == dated


def test_a_model_name_its_library_cannot_load_is_a_problem_line_and_gets_no_manifest(tmp_path):
    cfg, roles = _world(tmp_path)
    roles = roles | {"clip-RN50": {"model": "RN5000", "pretrained": "openai"}}
    problems = _refresh(tmp_path, cfg, roles)
    path = model_manifest_path(tmp_path / "manifests", "clip-RN50", roles["clip-RN50"])
    assert list(problems) == [str(path)] and not path.exists()
    assert "CLIP model 'RN5000' is not an open_clip model name" in problems[str(path)]
    assert stop_message([], problems, [str(path)]).splitlines()[1].startswith("  - CLIP model 'RN5000'")


def test_the_touch_the_error_gives_for_images_rewritten_in_place_makes_the_next_run_see_them(tmp_path):
    """Issue 32: an image rewritten in place, its folders' dates kept, is not seen by a run's refresh; the features
    job's error says `touch <dataset folder>`; done literally, the next refresh sees the new content."""
    import subprocess

    from synrec.datasets import dataset_folder, load_split

    cfg, roles = _world(tmp_path)
    _refresh(tmp_path, cfg, roles)
    path = tmp_path / "manifests/data/t_coop_split/test.json"
    ident = manifest.identity(path)
    image = next(p for p in sorted((tmp_path / "ds").rglob("*")) if p.suffix in manifest.IMAGE_SUFFIXES)
    dates = {d: d.stat().st_mtime_ns for d in [tmp_path / "ds", *(tmp_path / "ds").rglob("*")] if d.is_dir()}
    image.write_bytes(image.read_bytes() + b"\0")  # same name, new bytes
    for d, ns in dates.items():
        os.utime(d, ns=(ns, ns))
    assert _refresh(tmp_path, cfg, roles) == {} and manifest.identity(path) == ident  # not seen by the refresh
    with pytest.raises(SynrecError) as e:  # the job that reads the images sees it
        manifest.check_split_unchanged(path, load_split(cfg, tmp_path, "test"), dataset_folder(cfg, tmp_path))
    command = str(e.value).split("run `")[1].split("`")[0]
    assert command == f"touch {tmp_path / 'ds'}"
    subprocess.run(command.split(), check=True)
    assert _refresh(tmp_path, cfg, roles) == {} and manifest.identity(path) != ident


def test_a_split_failing_its_check_gets_no_manifest_and_comes_back_as_one_line(tmp_path):
    cfg, roles = _world(tmp_path, counts=13)
    problems = _refresh(tmp_path, cfg, roles)
    path = str(tmp_path / "manifests/data/t_coop_split/test.json")
    assert list(problems) == [path] and "test: 12 images, but key 'counts'" in problems[path]
    assert not os.path.exists(path) and "\n" not in problems[path]


def test_missing_content_names_each_absent_folder_once_with_its_fix_and_skips_what_a_rule_makes(tmp_path):
    cfg = dataset_cfg("coop_split", images="images", split_file="s.json")
    roles = model_roles({"clip": {"RN50": {"model": str(tmp_path / "nowhere")}},
                         "text_to_image": {"model": "org/sd"}, "word_to_sentence": {"model": "org/t5"}})

    def job(rule, **w):
        return SimpleNamespace(rule=SimpleNamespace(name=rule), wildcards=SimpleNamespace(**w))

    jobs = [job("data_manifest", dataset="t_coop_split", source=s) for s in ("test", "train")]
    jobs += [job("model_manifest", role="clip-RN50"), job("model_manifest", role="text_to_image")]
    lines = missing_content(jobs, roles, tmp_path, lambda d: cfg, lambda kind, name: False,
                            lambda c, root: f"fetch {c['name']} into {root}")
    assert len(lines) == 2  # one per dataset, not per split; a hub id is not a folder
    assert lines[0].startswith(f"dataset 't_coop_split': folder {tmp_path / 'ds'} does not exist")
    assert lines[0].endswith(f"fetch t_coop_split into {tmp_path}; or leave it out with --config datasets=[...]")
    assert lines[1].startswith(f"model 'clip-RN50': {tmp_path / 'nowhere'} does not exist")
    assert missing_content(jobs, roles, tmp_path, lambda d: cfg, lambda kind, name: True, None) == []


def test_the_stop_lists_failed_splits_only_where_the_dag_reads_them():
    problems = {"work/manifests/data/a/test.json": "a: 3 images missing", "work/manifests/data/b/test.json": "b: bad"}
    assert stop_message([], problems, ["work/manifests/data/c/test.json"]) is None
    message = stop_message(["dataset 'x': folder missing"], problems, ["work/./manifests/data/a/test.json"])
    assert message.splitlines() == ["synrec: 2 input(s) missing or incomplete, nothing was submitted:",
                                    "  - dataset 'x': folder missing", "  - a: 3 images missing"]


def test_each_named_generator_is_a_model_role_of_its_own_without_its_settings():
    roles = model_roles({"clip": {"RN50": {"model": "RN50"}}, "text_to_image": {"model": "org/sd"},
                         "word_to_sentence": {"model": "org/t5"}},
                        {"sd3": {"model": "org/sd3", "dtype": "float16", "title": "SD3",
                                 "generation": {"num_inference_steps": 28}}})
    assert roles["text_to_image"] == {"model": "org/sd"}
    assert roles["text_to_image@sd3"] == {"model": "org/sd3", "dtype": "float16"}  # settings are params, not model
    assert list(roles) == ["clip-RN50", "text_to_image", "text_to_image@sd3", "word_to_sentence"]


def test_what_every_snakemake_start_reads_imports_neither_torch_nor_open_clip(tmp_path):
    """Every Snakemake start (and, under SLURM, every job) parses the workflow and checks the configured models: the
    modules rules/common.smk imports, and the check of a local CLIP folder, must not pay torch's and open_clip's
    imports (seconds each). Checked in a fresh interpreter, where nothing was imported before."""
    import subprocess
    import sys

    from conftest import REPO

    clip = tmp_path / "clip"
    clip.mkdir()
    (clip / "open_clip_config.json").write_text("{}")
    code = f"""
import re, sys
sys.path.insert(0, {str(REPO)!r})
text = open({str(REPO / "rules" / "common.smk")!r}).read()
for line in re.findall(r"^from (synrec[.\\w]*) import", text, re.M) + ["synrec.manifest_run"]:
    __import__(line)
from synrec.models import check_model
check_model("clip-RN50", {{"model": "local-dir:{clip}", "pretrained": None}})
print(sorted(m for m in ("torch", "open_clip", "diffusers", "transformers") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout
