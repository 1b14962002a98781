"""The run-level manifest machinery (synrec.manifest_run): the refresh before the DAG is built, the listing of
missing content and the stop before submission, on small folders and stand-in Snakemake jobs."""

import os
from types import SimpleNamespace

from conftest import SHAPES, dataset_cfg

from synrec import demo_data, manifest
from synrec.manifest_run import missing_content, model_roles, refresh_all, source_split, stop_message


def _world(tmp_path, counts=12):
    demo_data.write_coop_split(tmp_path / "ds", SHAPES, {"test": 3}, "s.json")
    cfg = dataset_cfg("coop_split", images="images", split_file="s.json") | {"counts": {"test": counts}}
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"w" * 64)
    for f in (model / "weights.bin", model):  # weights of long ago
        os.utime(f, ns=(10**18, 10**18))
    return cfg, {"clip-RN": {"model": str(model)}}


def _refresh(tmp_path, cfg, roles):
    return refresh_all(tmp_path / "manifests", roles, {cfg["name"]: cfg}, {cfg["name"]: ["test"]}, tmp_path,
                       lambda d, s: source_split(cfg, s, "train", "val"), lambda d: cfg)


def test_refresh_adopts_content_dated_at_its_own_time_then_redates_only_what_changed(tmp_path):
    cfg, roles = _world(tmp_path)
    assert _refresh(tmp_path, cfg, roles) == {}
    model_m = tmp_path / "manifests/model/clip-RN.json"
    data_m = tmp_path / "manifests/data/t_coop_split/test.json"
    assert model_m.stat().st_mtime_ns == 10**18  # adopted: dated at the weights' time, so nothing made since reruns
    assert manifest.identity(data_m)["images"] == 12
    dated = data_m.stat().st_mtime_ns
    assert _refresh(tmp_path, cfg, roles) == {} and data_m.stat().st_mtime_ns == dated  # nothing changed
    (tmp_path / "model/weights.bin").write_bytes(b"v" * 64)  # other weights: the model's manifest is rewritten
    assert _refresh(tmp_path, cfg, roles) == {} and model_m.stat().st_mtime_ns > 10**18
    assert data_m.stat().st_mtime_ns == dated


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
