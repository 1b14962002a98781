"""The zero-shot chain of one dataset and backbone with every model in half precision, on CPU, against float32: a
demo project of its own, so it runs beside test_workflow.py's (slow: about 2 minutes on 2 cores once the demo
models are built)."""

import json

import numpy as np
import pytest
from conftest import copy_workflow, snakemake

from synrec.stores import ImageStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory, demo_models):
    return copy_workflow(tmp_path_factory.mktemp("half"), demo_models)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_the_half_precision_chain_runs_on_cpu_close_to_float32(project, dtype):
    """Prompts, generation, features, CF and CT with every model in half precision (``dtype_on_cpu``: the GPU
    path, forced on CPU): each stage really ran in ``dtype`` and lands near the float32 run."""
    target = "zeroshot/demo_shapes/RN50/LE+CF-SCE.json"
    # half the demo's images and a quarter of its test set: half precision is slow on CPU, and each dtype reruns
    # the chain (the precision is compared image by image and feature by feature, not by accuracy alone)
    (project / "small.yaml").write_text("demo_data: {test_per_class: 64}\ngeneration: {images_per_class: 8}\n"
                                        "clip_filter: {budget: 4}\n")
    snakemake(project, f"results/{target}", overrides=["small.yaml"])  # float32 (nothing to do after the first)
    spec = f"dtype: {dtype}, dtype_on_cpu: true"
    (project / f"{dtype}.yaml").write_text(
        f"work_dir: work/{dtype}\nresults_dir: results-{dtype}\nmodels:\n  clip:\n"
        f"    RN50: {{model: 'local-dir:resources/tiny/clip-RN', {spec}}}\n"
        f"  text_to_image: {{model: resources/tiny/stable-diffusion, {spec}}}\n"
        f"  word_to_sentence: {{model: resources/tiny/t5, {spec}}}\n")
    snakemake(project, f"results-{dtype}/{target}", overrides=["small.yaml", f"{dtype}.yaml"])
    half, full = (json.loads((project / r / target).read_text()) for r in (f"results-{dtype}", "results"))
    assert half["models"]["clip"]["dtype"] == dtype
    assert abs(half["metrics"]["acc1"] - full["metrics"]["acc1"]) <= 5
    le = json.loads((project / f"work/{dtype}/demo_shapes/prompts/LE.json").read_text())
    assert le["dtype"] == dtype and "dtype" not in json.loads((project / "work/demo/demo_shapes/prompts/LE.json")
                                                               .read_text())
    from synrec.stores import read_features

    a = ImageStore(project / f"work/{dtype}/demo_shapes/synthetic/LE/images.h5")
    b = ImageStore(project / "work/demo/demo_shapes/synthetic/LE/images.h5")
    assert json.loads(a.attrs["generation"])["dtype"] == dtype and "dtype" not in json.loads(b.attrs["generation"])
    # Half-precision T5 sampling may pick other tokens than float32 (one class's sentences differ on AVX-512 kernels
    # in bfloat16): images are compared where the prompts are equal, and the generator alone below.
    same = [i for i, (p, q) in enumerate(zip(a.prompts(), b.prompts(), strict=True)) if p == q]
    assert_images_close([a.image(i) for i in same], [b.image(i) for i in same])
    assert_images_close(generate_half(project, b, dtype, range(8)), [b.image(i) for i in range(8)])
    (xa, _, pa), (xb, _, pb) = (read_features(project / w / "demo_shapes/features/RN50/test.h5")
                                for w in (f"work/{dtype}", "work/demo"))
    assert pa["dtype"] == dtype and "dtype" not in pb
    cos = (xa * xb).sum(1) / np.linalg.norm(xa, axis=1) / np.linalg.norm(xb, axis=1)
    # bfloat16 keeps 8 bits of mantissa: over 1,024 test images the worst feature came to 0.998 (AVX-512 kernels)
    assert len(xa) == len(xb) == 4 * 64
    assert np.median(cos) > 0.999 and cos.min() > 0.99 and not np.array_equal(xa, xb), (np.median(cos), cos.min())


def assert_images_close(half, full):
    """Half-precision images near the float32 ones from the same prompts and seeds, yet not identical."""
    diff = [np.abs(np.asarray(h, float) - np.asarray(f, float)).mean() for h, f in zip(half, full, strict=True)]
    if diff:
        assert 0 < np.mean(diff) < 1.5 and max(diff) < 4, diff  # grey levels of 255


def generate_half(project, store, dtype, indices):
    """The demo generator in ``dtype`` on the float32 store's own prompts and seeds (its recorded settings)."""
    import h5py

    from synrec.generation import generate_shard
    from synrec.models import load_text_to_image

    with h5py.File(store.path) as f:
        seeds = f["seeds"][:]
    prompts = store.prompts()
    plan = [(int(store.labels[i]), i, prompts[i], int(seeds[i])) for i in indices]
    gen = {**json.loads(store.attrs["generation"]), "batch_size": 4}
    pipe = load_text_to_image({"model": str(project / "resources/tiny/stable-diffusion"), "dtype": dtype,
                               "dtype_on_cpu": True})
    shard = generate_shard(pipe, plan, project / f"half-{dtype}.h5", gen, {}, progress=False)
    out = ImageStore(shard)
    assert json.loads(out.attrs["generation"])["dtype"] == dtype
    return [out.image(i) for i in range(len(out))]
