"""The zero-shot chain of one dataset and backbone with every model in half precision, on CPU, against float32: a
demo project of its own, so it runs beside test_workflow.py's (slow: about 2 minutes on 2 cores once the demo
models are built)."""

import json

import numpy as np
import pytest
from conftest import copy_workflow, snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory, demo_models):
    return copy_workflow(tmp_path_factory.mktemp("half"), demo_models)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_the_half_precision_chain_runs_on_cpu_close_to_float32(project, dtype):
    """Prompts, generation, features, CF and CT with every model in half precision (``dtype_on_cpu``: the GPU
    path, forced on CPU): each stage really ran in ``dtype`` and lands near the float32 run."""
    target = "zeroshot/demo_shapes/RN50/LE+CF-SCE.json"
    snakemake(project, f"results/{target}")  # float32 (nothing to do after the first parameter)
    spec = f"dtype: {dtype}, dtype_on_cpu: true"
    (project / f"{dtype}.yaml").write_text(
        f"work_dir: work/{dtype}\nresults_dir: results-{dtype}\nmodels:\n  clip:\n"
        f"    RN50: {{model: 'local-dir:resources/tiny/clip-RN', {spec}}}\n"
        f"  text_to_image: {{model: resources/tiny/stable-diffusion, {spec}}}\n"
        f"  word_to_sentence: {{model: resources/tiny/t5, {spec}}}\n")
    snakemake(project, f"results-{dtype}/{target}", overrides=[f"{dtype}.yaml"])
    half, full = (json.loads((project / r / target).read_text()) for r in (f"results-{dtype}", "results"))
    assert half["models"]["clip"]["dtype"] == dtype
    assert abs(half["metrics"]["acc1"] - full["metrics"]["acc1"]) <= 5
    from synrec.stores import ImageStore, read_features

    a = ImageStore(project / f"work/{dtype}/demo_shapes/synthetic/LE/images.h5")
    b = ImageStore(project / "work/demo/demo_shapes/synthetic/LE/images.h5")
    assert json.loads(a.attrs["generation"])["dtype"] == dtype and "dtype" not in json.loads(b.attrs["generation"])
    assert a.prompts() == b.prompts()
    diff = [np.abs(np.asarray(a.image(i), float) - np.asarray(b.image(i), float)).mean() for i in range(len(a))]
    assert 0 < np.mean(diff) < 1.5 and max(diff) < 4  # grey levels of 255
    (xa, _, pa), (xb, _, pb) = (read_features(project / w / "demo_shapes/features/RN50/test.h5")
                                for w in (f"work/{dtype}", "work/demo"))
    assert pa["dtype"] == dtype and "dtype" not in pb
    cos = (xa * xb).sum(1) / np.linalg.norm(xa, axis=1) / np.linalg.norm(xb, axis=1)
    assert cos.min() > 0.999 and not np.array_equal(xa, xb)
