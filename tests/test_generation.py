import json

import h5py
import numpy as np
import pytest
import torch

from synrec.errors import SynrecError
from synrec.generation import chunk_classes, generate_shard, n_chunks, plan_images
from synrec.models import load_text_to_image
from synrec.seeds import derive_seed
from synrec.stores import ImageStore, merge_shards

GEN = {"num_inference_steps": 2, "guidance_scale": 3.0, "height": 32, "width": 32, "store_size": 16, "batch_size": 2}
PROMPTS = [["a red circle"], ["a green square", "a green square on grass"], ["a blue triangle"]]
NAMES = ["red circle", "green square", "blue triangle"]


@pytest.fixture(scope="module")
def pipe(tiny_models):
    return load_text_to_image({"model": tiny_models["sd"]})


def read(path):
    store = ImageStore(path)
    return [np.asarray(store.image(i)) for i in range(len(store))], store.labels.tolist(), store.prompts()


def test_chunking_covers_every_class_once():
    assert n_chunks(1000, 1) == 1000 and n_chunks(10, 3) == 4
    assert [chunk_classes(c, 10, 3) for c in range(4)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_plan_seeds_depend_on_dataset_class_name_and_index_only():
    plan = plan_images("ds", [1, 2], PROMPTS, images_per_class=3, seed=0, classnames=NAMES)
    assert [(label, i) for label, i, _, _ in plan] == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    assert [p for _, _, p, _ in plan[:3]] == ["a green square", "a green square", "a green square on grass"]
    assert plan[0][3] == derive_seed(0, "ds", "green square", 0) and len({s for *_, s in plan}) == 6
    # a class's images do not depend on its job
    assert plan_images("ds", [2], PROMPTS, 3, 0, classnames=NAMES) == plan[3:]
    # nor on its label: the same class under another label (classes reordered in the YAML) gets the same seeds
    moved = plan_images("ds", [0], [PROMPTS[2]], 3, 0, classnames=["blue triangle"])
    assert [(p, s) for _, _, p, s in moved] == [(p, s) for _, _, p, s in plan[3:]]


def test_images_do_not_depend_on_batch_size(pipe, tmp_path):
    plan = plan_images("ds", [0, 1], PROMPTS, images_per_class=3, seed=0, classnames=NAMES)
    a = generate_shard(pipe, plan, tmp_path / "a.h5", {**GEN, "batch_size": 2}, {"dataset": "ds"}, progress=False)
    b = generate_shard(pipe, plan, tmp_path / "b.h5", {**GEN, "batch_size": 4}, {"dataset": "ds"}, progress=False)
    (ia, la, pa), (ib, lb, pb) = read(a), read(b)
    assert la == lb == [0, 0, 0, 1, 1, 1] and pa == pb
    assert ia[0].shape == (16, 16, 3)
    assert all(np.array_equal(x, y) for x, y in zip(ia, ib))
    assert not np.array_equal(ia[0], ia[1])  # different seeds, different images


def test_killed_generation_resumes_to_the_same_shard(pipe, tmp_path):
    plan = plan_images("ds", [0, 2], PROMPTS, images_per_class=3, seed=0, classnames=NAMES)
    full = generate_shard(pipe, plan, tmp_path / "full.h5", GEN, {"dataset": "ds"}, progress=False)

    class Killed(Exception):
        pass

    calls = {"n": 0}

    def dying_pipe(**kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Killed
        return pipe(**kw)

    out = tmp_path / "resumed.h5"
    with pytest.raises(Killed):
        generate_shard(dying_pipe, plan, out, GEN, {"dataset": "ds"}, progress=False)
    assert not out.exists()  # nothing partial under the final name
    with h5py.File(tmp_path / "resumed.h5.partial.h5", "r") as f:
        assert f["labels"].shape == (4,)  # two batches of 2 were flushed
    calls["n"] = -100
    generate_shard(dying_pipe, plan, out, GEN, {"dataset": "ds"}, progress=False)
    assert calls["n"] == -100 + 1  # only the last batch (2 images) was generated again
    (i1, l1, p1), (i2, l2, p2) = read(full), read(out)
    assert l1 == l2 and p1 == p2 and all(np.array_equal(x, y) for x, y in zip(i1, i2))


def test_changed_settings_restart_a_partial_shard(pipe, tmp_path):
    plan = plan_images("ds", [0], PROMPTS, images_per_class=4, seed=0, classnames=NAMES)
    out = tmp_path / "s.h5"

    def die_after_first(**kw):
        die_after_first.n += 1
        if die_after_first.n > 1:
            raise RuntimeError("killed")
        return pipe(**kw)

    die_after_first.n = 0
    with pytest.raises(RuntimeError):
        generate_shard(die_after_first, plan, out, GEN, {"dataset": "ds"}, progress=False)
    other = {**GEN, "guidance_scale": 7.5}
    generate_shard(pipe, plan, out, other, {"dataset": "ds"}, progress=False)
    ref = generate_shard(pipe, plan, tmp_path / "ref.h5", other, {"dataset": "ds"}, progress=False)
    assert all(np.array_equal(x, y) for x, y in zip(read(out)[0], read(ref)[0]))


def test_merge_streams_shards_in_order_with_a_fingerprint(pipe, tmp_path):
    shards = []
    for c in range(3):
        plan = plan_images("ds", chunk_classes(c, 3, 1), PROMPTS, images_per_class=2, seed=0, classnames=NAMES)
        shards.append(generate_shard(pipe, plan, tmp_path / f"{c}.h5", GEN, {"dataset": "ds"}, progress=False))
    fp = merge_shards(shards, tmp_path / "images.h5", {"dataset": "ds", "classnames": ["a", "b", "c"]}, block=1)
    store = ImageStore(tmp_path / "images.h5")
    assert store.labels.tolist() == [0, 0, 1, 1, 2, 2] and store.fingerprint() == fp
    assert store.prompts()[2] == "a green square"
    assert np.array_equal(np.asarray(store.image(3)), read(shards[1])[0][1])
    fp2 = merge_shards(shards[::-1], tmp_path / "other.h5", {"dataset": "ds"})
    assert fp2 != fp
    # the exact generation settings travel into the store; shards made with other settings do not merge
    assert json.loads(store.attrs["generation"])["guidance_scale"] == 3.0
    plan = plan_images("ds", [0], PROMPTS, images_per_class=2, seed=0, classnames=NAMES)
    odd = generate_shard(pipe, plan, tmp_path / "odd.h5", {**GEN, "guidance_scale": 1.0}, {"dataset": "ds"},
                         progress=False)
    with pytest.raises(SynrecError, match="was generated with other settings"):
        merge_shards([shards[1], odd], tmp_path / "mixed.h5", {"dataset": "ds"})
    assert not (tmp_path / "mixed.h5").exists()


class Flagging:
    """The tiny pipeline behind a stand-in safety checker that blanks the images of the given seeds."""

    def __init__(self, pipe, blank_seeds):
        self.pipe, self.blank, self.calls = pipe, set(blank_seeds), []

    def __call__(self, **kw):
        seeds = [g.initial_seed() for g in kw["generator"]]
        self.calls.append(seeds)
        out = self.pipe(**kw)
        out.nsfw_content_detected = [s in self.blank for s in seeds]
        for i, s in enumerate(seeds):
            if s in self.blank:
                out.images[i] = 0.0  # what Stable Diffusion's checker does
        return out


def test_blanked_images_are_flagged_in_the_shard_and_left_out_of_the_store(pipe, tmp_path):
    plan = plan_images("ds", [0], PROMPTS, images_per_class=3, seed=0, classnames=NAMES)
    shard = generate_shard(Flagging(pipe, [plan[1][3]]), plan, tmp_path / "f.h5",
                           {**GEN, "batch_size": 3, "safety_checker": "drop"}, {"dataset": "ds"}, progress=False)
    assert ImageStore(shard).flagged.tolist() == [0, 1, 0]
    merge_shards([shard], tmp_path / "m.h5", {"dataset": "ds"})
    store = ImageStore(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5") as f:
        assert f["seeds"][:].tolist() == [plan[0][3], plan[2][3]]
    assert len(store) == 2 and store.flagged.tolist() == [0, 0] and store.attrs["n_flagged_dropped"] == 1
    from synrec.stores import safety_counts

    assert safety_counts(tmp_path / "m.h5") == {"safety_checker": "drop", "flagged_dropped": 1, "regenerated": 0}
    plain = generate_shard(pipe, plan, tmp_path / "p.h5", GEN, {"dataset": "ds"}, progress=False)
    assert ImageStore(plain).flagged.tolist() == [0, 0, 0]


def test_regenerate_replaces_a_blanked_image_with_a_fresh_seed_and_drops_one_that_stays_blank(pipe, tmp_path):
    plan = plan_images("ds", [0], PROMPTS, images_per_class=4, seed=0, classnames=NAMES)
    planned = [p[3] for p in plan]
    stubborn = [derive_seed(planned[3], "regenerate", k) for k in (1, 2)]  # image 3 stays blank for all 3 tries
    fake = Flagging(pipe, [planned[1], planned[3], *stubborn])
    cfg = {**GEN, "batch_size": 4, "safety_checker": "regenerate", "safety_retries": 3}
    shard = generate_shard(fake, plan, tmp_path / "r.h5", cfg, {"dataset": "ds"}, progress=False)
    fresh = derive_seed(planned[1], "regenerate", 1)
    assert fake.calls == [planned, [fresh, stubborn[0]], [stubborn[1]], [derive_seed(planned[3], "regenerate", 3)]]
    with h5py.File(shard) as f:
        assert f["seeds"][:].tolist() == [planned[0], fresh, planned[2], derive_seed(planned[3], "regenerate", 3)]
        assert f["flagged"][:].tolist() == [0, 0, 0, 0] and f.attrs["n_regenerated"] == 4
    # the regenerated image is the fresh seed's image, not a blank
    alone = generate_shard(pipe, [(0, 1, plan[1][2], fresh)], tmp_path / "one.h5", GEN, {"dataset": "ds"},
                           progress=False)
    assert np.array_equal(np.asarray(ImageStore(shard).image(1)), np.asarray(ImageStore(alone).image(0)))
    stays = Flagging(pipe, [planned[3], *[derive_seed(planned[3], "regenerate", k) for k in (1, 2, 3)]])
    shard = generate_shard(stays, plan, tmp_path / "s.h5", cfg, {"dataset": "ds"}, progress=False)
    merge_shards([shard], tmp_path / "m.h5", {"dataset": "ds"})
    assert len(ImageStore(tmp_path / "m.h5")) == 3 and ImageStore(tmp_path / "m.h5").attrs["n_flagged_dropped"] == 1


def test_a_shipped_safety_checker_is_loaded_only_when_asked_for(tmp_path):
    from synrec.tiny import build_tiny_stable_diffusion

    folder = build_tiny_stable_diffusion(tmp_path / "sd", safety_checker=True)
    assert load_text_to_image({"model": str(folder)}).safety_checker is None  # off: the research default
    assert load_text_to_image({"model": str(folder)}, img2img=True).safety_checker is None
    on = load_text_to_image({"model": str(folder)}, safety_checker=True)
    assert type(on.safety_checker).__name__ == "StableDiffusionSafetyChecker"
    out = on(prompt=["a photo"], num_inference_steps=1, height=32, width=32, output_type="np")
    assert out.nsfw_content_detected == [False]  # the checker ran (a random one flags nothing here)


def test_a_batch_of_identical_images_is_stored_and_merged(tmp_path):
    """A batch of identical (e.g. all-black) images, whose PNGs all have the same length, must still write (h5py
    would turn such rows into a 2-D array that does not fit the (N,) column)."""
    from synrec.stores import ShardWriter

    black = [np.zeros((16, 16, 3), np.uint8)] * 4
    w = ShardWriter(tmp_path / "s.h5", {"dataset": "ds"})
    w.append(black, [0, 0, 1, 1], ["p"] * 4, [1, 2, 3, 4])
    shard = w.finish()
    merge_shards([shard, shard], tmp_path / "m.h5", {"dataset": "ds"}, block=3)
    store = ImageStore(tmp_path / "m.h5")
    assert len(store) == 8 and store.flagged.tolist() == [0] * 8
    assert all(np.asarray(store.image(i)).max() == 0 for i in range(8))


def test_background_encoding_writes_the_same_shard_bytes_as_inline(pipe, tmp_path):
    plan = plan_images("ds", [0, 1, 2], PROMPTS, images_per_class=3, seed=0, classnames=NAMES)
    a = generate_shard(pipe, plan, tmp_path / "a.h5", GEN, {"dataset": "ds"}, progress=False)
    b = generate_shard(pipe, plan, tmp_path / "b.h5", {**GEN, "background_encode": True}, {"dataset": "ds"},
                       progress=False)
    with h5py.File(a) as fa, h5py.File(b) as fb:
        assert len(fa["images"]) == 9
        for col in ("labels", "seeds", "prompts", "flagged"):
            assert fa[col][:].tolist() == fb[col][:].tolist()
        assert all(x.tobytes() == y.tobytes() for x, y in zip(fa["images"][:], fb["images"][:]))
        assert fa.attrs["settings"] == fb.attrs["settings"]  # a throughput setting: resumes either way


def test_a_failed_background_write_stops_the_job_and_keeps_the_rows_before_it(pipe, tmp_path, monkeypatch):
    from synrec import stores

    plan = plan_images("ds", [0, 1], PROMPTS, images_per_class=3, seed=0, classnames=NAMES)
    real, calls = stores.ShardWriter.append, []

    def failing(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("No space left on device")
        return real(self, *a, **k)

    monkeypatch.setattr(stores.ShardWriter, "append", failing)
    with pytest.raises(OSError, match="No space"):
        generate_shard(pipe, plan, tmp_path / "s.h5", {**GEN, "background_encode": True}, {"dataset": "ds"},
                       progress=False)
    with h5py.File(tmp_path / "s.h5.partial.h5") as f:
        assert len(f["labels"]) == 2  # the first batch only; the job is not reported done
    assert not (tmp_path / "s.h5").exists()


def test_speed_settings_change_the_pipeline_and_are_recorded_with_the_shard(tiny_models, tmp_path):
    from diffusers import DPMSolverMultistepScheduler
    from diffusers.models.attention_processor import AttnProcessor

    from synrec.generation import SPEED_DEFAULTS, apply_speed_settings

    fast = {"sampler": "dpmsolver++", "attention": "classic", "channels_last": True, "vae_decode": "per-image"}
    pipe = apply_speed_settings(load_text_to_image({"model": tiny_models["sd"]}), fast)
    assert isinstance(pipe.scheduler, DPMSolverMultistepScheduler)
    assert pipe.scheduler.config.algorithm_type == "dpmsolver++"
    assert pipe.scheduler.config.beta_schedule == "scaled_linear"  # the checkpoint's noise schedule kept
    assert all(isinstance(p, AttnProcessor) for p in pipe.unet.attn_processors.values())
    assert pipe.vae.use_slicing
    conv = next(m for m in pipe.unet.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    plan = plan_images("ds", [0], PROMPTS, images_per_class=2, seed=0, classnames=NAMES)
    out = generate_shard(pipe, plan, tmp_path / "fast.h5", {**GEN, **fast, "num_inference_steps": 3},
                         {"dataset": "ds"}, progress=False)
    default = generate_shard(load_text_to_image({"model": tiny_models["sd"]}), plan, tmp_path / "default.h5",
                             {**GEN, **SPEED_DEFAULTS}, {"dataset": "ds"}, progress=False)
    with h5py.File(out) as f, h5py.File(default) as g:
        assert {k: v for k, v in json.loads(f.attrs["generation"]).items() if k in fast} == fast
        assert not set(json.loads(g.attrs["generation"])) & set(SPEED_DEFAULTS)  # defaults: settings as before
    assert len(read(out)[0]) == 2


def test_jpeg_storage_is_recorded_and_decodes_close_to_png(pipe, tmp_path):
    plan = plan_images("ds", [0, 1], PROMPTS, images_per_class=2, seed=0, classnames=NAMES)
    a = generate_shard(pipe, plan, tmp_path / "png.h5", {**GEN, "store_size": 32}, {"dataset": "ds"},
                       progress=False)
    b = generate_shard(pipe, plan, tmp_path / "jpg.h5", {**GEN, "store_size": 32, "image_format": "jpeg"},
                       {"dataset": "ds"}, progress=False)
    with h5py.File(a) as fa, h5py.File(b) as fb:
        assert fa["images"][0][:4].tobytes() == b"\x89PNG" and fb["images"][0][:2].tobytes() == b"\xff\xd8"
        assert json.loads(fb.attrs["generation"])["image_format"] == "jpeg"
        assert "image_format" not in json.loads(fa.attrs["generation"])  # the default leaves settings as before
    (ia, la, pa), (ib, lb, pb) = read(a), read(b)
    assert la == lb and pa == pb
    # lossy, but the same pictures: the random tiny pipeline draws noise, JPEG's worst case (about 14 grey levels
    # off per pixel at quality 95), yet each image's mean colour stays within 2 levels
    diff = [np.abs(x.astype(float) - y.astype(float)).mean() for x, y in zip(ia, ib)]
    assert 0 < max(diff) < 25
    assert all(np.abs(x.mean((0, 1)) - y.mean((0, 1))).max() < 2 for x, y in zip(ia, ib))


def test_a_batch_whose_write_failed_is_not_resumed_as_done(pipe, tmp_path, monkeypatch):
    """A full disk in the middle of a batch's write: the rerun must redo that batch, not count its rows as done."""
    from synrec import stores

    plan = plan_images("ds", [0, 1], PROMPTS, images_per_class=3, seed=0, classnames=NAMES)
    clean = generate_shard(pipe, plan, tmp_path / "clean.h5", GEN, {"dataset": "ds"}, progress=False)
    real, calls = stores._write_vlen, []

    def disk_full(ds, start, rows):
        calls.append(1)
        if len(calls) == 2:  # the second batch: one row reaches the file, then the disk is full
            real(ds, start, rows[:1])
            raise OSError("[Errno 28] No space left on device")
        real(ds, start, rows)

    monkeypatch.setattr(stores, "_write_vlen", disk_full)
    with pytest.raises(OSError, match="No space"):
        generate_shard(pipe, plan, tmp_path / "s.h5", GEN, {"dataset": "ds"}, progress=False)
    monkeypatch.setattr(stores, "_write_vlen", real)
    with h5py.File(tmp_path / "s.h5.partial.h5") as f:
        assert f.attrs["n_committed"] == 2 and f["labels"].shape[0] == 4  # the failed batch's rows are not committed
    resumed = generate_shard(pipe, plan, tmp_path / "s.h5", GEN, {"dataset": "ds"}, progress=False)
    with h5py.File(clean) as a, h5py.File(resumed) as b:
        assert len(b["images"]) == 6
        assert all(x.tobytes() == y.tobytes() for x, y in zip(a["images"][:], b["images"][:]))
        assert a["labels"][:].tolist() == b["labels"][:].tolist()


def test_a_partial_shard_that_does_not_read_back_is_generated_again(pipe, tmp_path, capsys):
    plan = plan_images("ds", [0], PROMPTS, images_per_class=3, seed=0, classnames=NAMES)
    clean = generate_shard(pipe, plan, tmp_path / "clean.h5", GEN, {"dataset": "ds"}, progress=False)
    partial = tmp_path / "s.h5.partial.h5"
    data = bytearray(clean.read_bytes())
    partial.write_bytes(bytes(data[: len(data) // 2]))  # truncated by a crash
    out = generate_shard(pipe, plan, tmp_path / "s.h5", GEN, {"dataset": "ds"}, progress=False)
    assert "unreadable" in capsys.readouterr().out
    assert [x.tobytes() for x in read(out)[0]] == [x.tobytes() for x in read(clean)[0]]


def test_merge_names_an_unreadable_shard(pipe, tmp_path):
    plan = plan_images("ds", [0], PROMPTS, images_per_class=2, seed=0, classnames=NAMES)
    good = generate_shard(pipe, plan, tmp_path / "a.h5", GEN, {"dataset": "ds"}, progress=False)
    bad = tmp_path / "b.h5"
    bad.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(SynrecError, match=r"shard .*b\.h5 is unreadable"):
        merge_shards([good, bad], tmp_path / "store.h5", {})
    assert not (tmp_path / "store.h5").exists()


def test_a_truncated_or_corrupt_image_store_is_a_one_line_error_naming_it(tmp_path):
    import shutil

    from synrec.errors import SynrecError
    from synrec.stores import ShardWriter, encode_png

    writer = ShardWriter(tmp_path / "s.h5", {"dataset": "ds"})
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(4)]
    writer.append(imgs, [0, 0, 1, 1], ["p"] * 4, [1, 2, 3, 4])
    store = writer.finish()
    assert np.array_equal(np.asarray(ImageStore(store).image(3)), imgs[3])
    cut = tmp_path / "cut.h5"
    data = store.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # a copy or a write that stopped half way
    with pytest.raises(SynrecError, match=r"image store .*cut\.h5 is unreadable, truncated or corrupt .*rerun"):
        ImageStore(cut)
    bad = tmp_path / "bad.h5"
    shutil.copy(store, bad)
    png = bytes(encode_png(imgs[2]))
    raw = bytearray(bad.read_bytes())
    at = raw.find(png[:64])  # image 2's bytes, overwritten in place
    raw[at: at + len(png)] = b"\0" * len(png)
    bad.write_bytes(bytes(raw))
    opened = ImageStore(bad)  # the index still reads
    with pytest.raises(SynrecError, match=r"bad\.h5 \(image 2\) is unreadable"):
        opened.image(2)
