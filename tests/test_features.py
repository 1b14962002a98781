import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import SHAPES, dataset_cfg

from synrec import demo_data
from synrec.datasets import load_split
from synrec.errors import SynrecError
from synrec.features import encode_images, feature_key, text_classifier
from synrec.models import load_clip, model_identity
from synrec.stores import read_features, write_features


@pytest.fixture(scope="module")
def clips(tiny_models):
    return {k: load_clip({"model": f"local-dir:{tiny_models[k]}"}) for k in ("clip_rn", "clip_vit")}


@pytest.fixture
def split(tmp_path):
    demo_data.write_coop_split(tmp_path / "ds", SHAPES, {"test": 3}, "s.json")
    return load_split(dataset_cfg("coop_split", images="images", split_file="s.json"), tmp_path, "test")


def test_encode_images_matches_a_direct_forward_pass(clips, split):
    model, preprocess, _ = clips["clip_rn"]
    feats = encode_images(model, preprocess, split, "cpu", batch_size=5, progress=False)
    assert feats.shape == (12, 32) and feats.dtype == np.float32
    with torch.no_grad():
        direct = model.encode_image(preprocess(split.image(7)).unsqueeze(0))[0].numpy()
    np.testing.assert_allclose(feats[7], direct, rtol=1e-4, atol=1e-5)


def test_synthetic_resize_downsizes_before_clips_preprocessing_and_changes_the_key(clips):
    """A dataset's ``synthetic_resize`` (the paper code's commented Resize(64) "for Cifar / Eurosat"): a synthetic
    image carries the target set's resolution, then CLIP's own preprocessing; unset leaves preprocessing as it is."""
    from PIL import Image

    from synrec.features import downsized

    pre = clips["clip_rn"][1]
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8))
    assert downsized(pre, None) is pre
    small = downsized(pre, 32)
    torch.testing.assert_close(small(img), pre(img.resize((32, 32), Image.BILINEAR)), atol=0.02, rtol=0)
    assert not torch.allclose(small(img), pre(img), atol=0.1)
    ident = {"model": "m"}
    assert feature_key(ident, small, "fp")[0] != feature_key(ident, pre, "fp")[0]


def test_corrupt_image_inside_a_dataloader_worker_is_still_one_line(clips, split):
    model, preprocess, _ = clips["clip_rn"]
    split.paths[4].write_bytes(b"garbage")
    with pytest.raises(SynrecError) as e:
        encode_images(model, preprocess, split, "cpu", batch_size=4, num_workers=1, progress=False)
    assert str(e.value).startswith(f"dataset 't_coop_split': image {split.paths[4]} is corrupt")
    assert "Traceback" not in str(e.value)


def test_feature_key_changes_with_backbone_images_and_preprocessing(tiny_models, clips, split, tmp_path):
    rn = {"model": f"local-dir:{tiny_models['clip_rn']}"}
    vit = {"model": f"local-dir:{tiny_models['clip_vit']}"}
    pre = clips["clip_rn"][1]
    k, parts = feature_key(model_identity(rn), pre, split.fingerprint())
    assert feature_key(model_identity(rn), pre, split.fingerprint())[0] == k  # stable
    assert feature_key(model_identity(vit), pre, split.fingerprint())[0] != k  # other backbone
    assert feature_key(model_identity(rn), pre, "another-image-store")[0] != k  # other images
    import torchvision.transforms as T

    other_pre = T.Compose([T.Resize(32), *pre.transforms[1:]])
    assert feature_key(model_identity(rn), other_pre, split.fingerprint())[0] != k  # other preprocessing
    # the same folder name with retrained weights is another model
    retrained = tmp_path / "retrained"
    import shutil

    shutil.copytree(tiny_models["clip_rn"], retrained)
    from synrec import tiny

    tiny.build_tiny_clip(retrained, "RN", seed=1)
    assert model_identity({"model": f"local-dir:{retrained}"})["sha256"] != model_identity(rn)["sha256"]
    # and a store written under one key is refused under another
    write_features(tmp_path / "f.h5", np.zeros((2, 4)), np.array([0, 1]), k, parts)
    feats, labels, got = read_features(tmp_path / "f.h5", k)
    assert labels.tolist() == [0, 1] and got == parts
    with pytest.raises(SynrecError, match="was computed for another model/images/preprocessing"):
        read_features(tmp_path / "f.h5", "0000")


def test_split_fingerprint_changes_when_an_image_changes(split):
    fp = split.fingerprint()
    split.paths[0].write_bytes(split.paths[0].read_bytes() + b"\0")
    split._fingerprint = None
    assert split.fingerprint() != fp


def test_text_classifier_is_the_normalised_template_average(clips):
    model, _, tok = clips["clip_vit"]
    templates = ["a photo of a {c}.", "a drawing of a {c}."]
    w = text_classifier(model, tok, ["cat", "dog"], templates, "cpu")
    assert w.shape == (2, 32)
    torch.testing.assert_close(w.norm(dim=-1), torch.ones(2))
    with torch.no_grad():
        e = F.normalize(model.encode_text(tok(["a photo of a dog.", "a drawing of a dog."])), dim=-1).mean(0)
    torch.testing.assert_close(w[1], F.normalize(e, dim=0))


def test_manifests_stand_for_content_and_consumers_check_them(tmp_path, split):
    """A model manifest changes with the weights (not the folder date); a consumer refuses features, heads and shots
    made from other content than the manifests name."""
    import json

    from synrec import manifest

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "w.bin").write_bytes(b"a" * 10)
    spec = {"model": f"local-dir:{folder}"}
    m1 = manifest.model_manifest(spec)
    assert manifest.model_manifest(spec, m1) == m1  # nothing changed: the hash is reused
    (folder / "w.bin").write_bytes(b"b" * 10)  # same size, same name, new content
    m2 = manifest.model_manifest(spec, m1)
    assert m2["identity"]["sha256"] != m1["identity"]["sha256"]
    path = tmp_path / "model.json"
    manifest.create(path, m1, 1_000_000_000)
    assert path.stat().st_mtime_ns == 1_000_000_000  # adopted content keeps its date: nothing downstream reruns
    assert manifest.refresh(path, lambda prev: manifest.model_manifest(spec, prev))  # rewritten: new identity
    assert path.stat().st_mtime_ns > 1_000_000_000
    assert not manifest.refresh(path, lambda prev: manifest.model_manifest(spec, prev))
    store = tmp_path / "f.h5"
    write_features(store, np.zeros((2, 3)), np.zeros(2), "k", {"model": m1["identity"], "images": "fp"})
    with pytest.raises(SynrecError, match="computed from other weights than the manifests name now"):
        manifest.read_checked(store, path)
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"identity": {"fingerprint": "fp2"}}))
    write_features(store, np.zeros((2, 3)), np.zeros(2), "k", {"model": m2["identity"], "images": "fp"})
    with pytest.raises(SynrecError, match="computed from other images"):
        manifest.read_checked(store, path, data)
    data.write_text(json.dumps({"identity": {"fingerprint": "fp"}}))
    assert manifest.read_checked(store, path, data)[0].shape == (2, 3)
    with pytest.raises(SynrecError, match="zero-shot head h.pt was built by other weights"):
        manifest.check_head({"model": m1["identity"]}, "h.pt", path)
    with pytest.raises(SynrecError, match="few-shot split s.json indexes another train split"):
        manifest.check_shots({"train_fingerprint": "old"}, "s.json", data)
    assert manifest.check_shots({"train_fingerprint": "fp", "train": [1]}, "s.json", data)["train"] == [1]


def test_a_split_fingerprint_sees_an_image_replaced_with_one_of_the_same_size(split):
    import os

    fp = split.fingerprint()
    p = split.paths[0]
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # rewritten: same name, same size, new time
    split._fingerprint = None
    assert split.fingerprint() != fp


def test_a_job_that_reads_a_split_rewritten_in_place_says_how_to_make_runs_see_it(tmp_path, split):
    import json

    from synrec import manifest

    path = tmp_path / "m.json"
    path.write_text(json.dumps({"identity": {"fingerprint": split.fingerprint(), "images": len(split)}}))
    manifest.check_split_unchanged(path, split, tmp_path / "ds")  # unchanged: silent
    split.paths[2].write_bytes(split.paths[2].read_bytes() + b"\0")  # same name, rewritten in place
    split._fingerprint = None
    with pytest.raises(SynrecError, match=r"split 'test' changed on disk since manifest .*: run `touch .*/ds` and"):
        manifest.check_split_unchanged(path, split, tmp_path / "ds")


def test_every_run_checks_a_split_read_anew_in_full_and_an_unchanged_one_by_its_count(tmp_path):
    """The per-run refresh is where ``synrec.datasets --check`` runs: content read anew (no manifest, or its folders
    changed) is checked in full, content taken from the previous manifest against the YAML's counts; a split that
    fails raises one line and keeps its old manifest, so the next run checks it again."""
    import os

    from synrec import manifest

    demo_data.write_coop_split(tmp_path / "ds", SHAPES, {"test": 3}, "s.json")
    cfg = dataset_cfg("coop_split", images="images", split_file="s.json") | {"counts": {"test": 12}}
    m1 = manifest.data_manifest(cfg, tmp_path, "test")
    assert m1["identity"]["images"] == 12
    path = tmp_path / "m.json"
    manifest.create(path, m1, 1)
    assert not manifest.refresh(path, lambda prev: manifest.data_manifest(cfg, tmp_path, "test", prev))
    # the YAML now says 13: an unchanged split is refused by its count, without being read again
    more = cfg | {"counts": {"test": 13}}
    with pytest.raises(SynrecError, match=r"^dataset 't_coop_split' split 'test' is incomplete: test: 12 images, but "
                                          r"key 'counts' of .* says 13 \(a partial download"):
        manifest.refresh(path, lambda prev: manifest.data_manifest(more, tmp_path, "test", prev))
    # an image deleted (its folder changes): read anew, the full check finds it, the old manifest stays
    split = load_split(cfg, tmp_path, "test")
    split.paths[4].unlink()
    with pytest.raises(SynrecError, match=r"^dataset 't_coop_split' split 'test' is incomplete: test: 1 of 12 listed "
                                          r"images do not exist, e\.g\. "):
        manifest.refresh(path, lambda prev: manifest.data_manifest(cfg, tmp_path, "test", prev))
    assert manifest.read(path) == m1 and path.stat().st_mtime_ns == 1
    # a corrupt image among the sampled ones, its folder touched: unreadable
    split.paths[4].write_bytes(b"not an image")
    os.utime(split.paths[4].parent)
    with pytest.raises(SynrecError, match=r"split 'test' is unreadable: test: dataset 't_coop_split': image .* is "
                                          r"corrupt"):
        manifest.data_manifest(cfg, tmp_path, "test", manifest.read(path))
