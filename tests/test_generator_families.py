"""Every diffusers text-to-image family after SD 1.x, as a tiny stand-in built from its own classes: loaded back
through the one loader, generated into the store with per-image seeds, and started from a noised real image (real
guidance) at the paper's noise level where the family has img2img, flow-matching samplers included."""

import numpy as np
import pytest
import torch
from PIL import Image

from synrec.errors import SynrecError
from synrec.generation import generate_shard, plan_guided_images, plan_images
from synrec.models import load_text_to_image
from synrec.real_guidance import (
    GuidedPipeline,
    flow_sigma,
    is_flow_matching,
    paper_sqrt_alpha_bar,
    rg_settings,
    vp_equivalent,
)
from synrec.stores import ImageStore
from synrec.tiny_generators import FAMILIES, IMG2IMG_FAMILIES, build_tiny_generator

GEN = {"num_inference_steps": 4, "guidance_scale": 3.0, "height": 32, "width": 32, "store_size": 16, "batch_size": 2}
#: what a config gives a family that needs it (PixArt bins sizes to its trained aspect ratios; 32 px is none)
CALL = {"pixart": {"use_resolution_binning": False}}
PROMPTS = [["a red circle"], ["a blue square"]]
NAMES = ["red circle", "blue square"]


@pytest.fixture(scope="module")
def generators(tmp_path_factory):
    root = tmp_path_factory.mktemp("generators")
    return {family: str(build_tiny_generator(root / family, family)) for family in FAMILIES}


def _images(path):
    store = ImageStore(path)
    return [np.asarray(store.image(i)) for i in range(len(store))], store.labels.tolist()


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_loads_through_the_one_loader_and_generates_per_image_seeded_images(generators, family,
                                                                                        tmp_path):
    pipe = load_text_to_image({"model": generators[family]})
    assert type(pipe).__name__ == {"sdxl": "StableDiffusionXLPipeline", "sd3": "StableDiffusion3Pipeline",
                                   "flux": "FluxPipeline", "pixart": "PixArtSigmaPipeline"}[family]
    gen = {**GEN, "call_kwargs": CALL.get(family)}
    plan = plan_images("ds", [0, 1], PROMPTS, images_per_class=3, seed=0, classnames=NAMES)
    a = generate_shard(pipe, plan, tmp_path / "a.h5", {**gen, "batch_size": 2}, {"dataset": "ds"}, progress=False)
    b = generate_shard(pipe, plan, tmp_path / "b.h5", {**gen, "batch_size": 3}, {"dataset": "ds"}, progress=False)
    (ia, la), (ib, lb) = _images(a), _images(b)
    assert la == lb == [0, 0, 0, 1, 1, 1] and ia[0].shape == (16, 16, 3)
    # an image is the same whatever its batch neighbours (atol: a transformer's batched matmuls may round apart)
    assert all(np.abs(x.astype(int) - y.astype(int)).max() <= 2 for x, y in zip(ia, ib))
    assert not np.array_equal(ia[0], ia[1])  # another seed, another image


def test_a_family_without_img2img_is_refused_for_real_guidance_in_one_line(generators):
    with pytest.raises(SynrecError, match=r"PixArtSigmaPipeline\) has no img2img pipeline"):
        load_text_to_image({"model": generators["pixart"]}, img2img=True)


def test_the_flow_sigma_has_the_signal_to_noise_ratio_of_the_ddpm_level():
    for a in (0.97, 0.9, 0.708, 0.3):
        s = flow_sigma(a)
        snr_ddpm, snr_flow = a**2 / (1 - a**2), ((1 - s) / s) ** 2
        assert snr_flow == pytest.approx(snr_ddpm, rel=1e-9)
        assert vp_equivalent(s) == pytest.approx((a, (1 - a**2) ** 0.5), rel=1e-9)
    assert flow_sigma(1.0) == 0.0 and flow_sigma(0.0) == 1.0


def _applied_sigmas(pipe, strength: float, steps: int) -> list[float]:
    """Run img2img at ``strength`` and measure the sigma the sampler really noised the reference with: from
    x_s = (1 - s) x_0 + s e, s = <x_s - x_0, e - x_0> / |e - x_0|^2."""
    seen = []
    cls = type(pipe.scheduler)
    original = cls.scale_noise

    def spy(self, sample, timestep, noise=None):
        out = original(self, sample, timestep, noise)
        d = (noise - sample).double()
        seen.append(float(((out - sample).double() * d).sum() / (d * d).sum()))
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cls, "scale_noise", spy)
        ref = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8))
        pipe(prompt="a red circle", image=ref, strength=strength, num_inference_steps=steps, guidance_scale=3.0,
             height=32, width=32, generator=torch.Generator("cpu").manual_seed(0), output_type="np")
    return seen


@pytest.mark.parametrize("family", ["sd3", "flux"])
def test_real_guidance_on_a_flow_sampler_applies_the_noise_level_it_records(generators, family):
    pipe = load_text_to_image({"model": generators[family]}, img2img=True)
    assert is_flow_matching(pipe.scheduler)
    n, chosen = 10, set()
    for shots in (1, 4, 16):
        rg = rg_settings(pipe, shots, n, 32, 32)
        target = flow_sigma(paper_sqrt_alpha_bar(shots))
        assert rg["sigma_paper"] == pytest.approx(target)
        seen = _applied_sigmas(pipe, rg["strength"], n)
        assert len(seen) == 1 and seen[0] == pytest.approx(rg["sigma"], abs=1e-4)  # recorded = applied
        assert rg["noise_std"] == pytest.approx(vp_equivalent(seen[0])[1], abs=1e-4)
        # the grid's nearest start to the paper's level: no strength on this grid starts closer
        others = [rg_settings(pipe, shots, n, 32, 32, strength=j / (2 * n))["sigma"] for j in range(1, 2 * n + 1)]
        assert abs(rg["sigma"] - target) <= min(abs(s - target) for s in others) + 1e-9
        chosen.add(round(rg["sigma"], 6))
    assert len(chosen) >= 2  # fewer shots, more noise: the three levels do not collapse onto one grid step


@pytest.mark.parametrize("family", [f for f in IMG2IMG_FAMILIES if f != "sd1"])
def test_real_guidance_runs_on_every_family_with_img2img(generators, family, tmp_path):
    pipe = load_text_to_image({"model": generators[family]}, img2img=True)
    rg = rg_settings(pipe, 4, GEN["num_inference_steps"], 32, 32)
    assert 0 < rg["strength"] <= 1 and 0 < rg["noise_std"] < 1
    refs = {0: Image.new("RGB", (40, 32), (255, 0, 0)), 1: Image.new("RGB", (32, 32), (0, 0, 255))}
    plan = plan_guided_images("ds", {0: [0], 1: [1]}, PROMPTS, 2, seed=0, tag="RG-1shot-seed1", classnames=NAMES)
    out = generate_shard(GuidedPipeline(pipe, rg["strength"]), plan, tmp_path / "rg.h5", GEN, {"dataset": "ds", **rg},
                         progress=False, reference=lambda item: refs[item[4]].resize((32, 32)))
    images, labels = _images(out)
    assert labels == [0, 0, 1, 1] and images[0].shape == (16, 16, 3)
    from synrec.stores import ImageStore, merge_shards

    merged = merge_shards([out], tmp_path / "merged.h5", {"dataset": "ds"})
    assert merged and ImageStore(tmp_path / "merged.h5").attrs["noise_std"] == pytest.approx(rg["noise_std"])
    if family in ("sd3", "flux"):  # the flow sigma applied travels into the store, as the start timestep does
        assert ImageStore(tmp_path / "merged.h5").attrs["sigma"] == pytest.approx(rg["sigma"])


def test_the_true_size_denoisers_have_their_published_parameter_counts():
    """Counted on the meta device from the checkpoints' configs: SDXL base's UNet 2.6 B, SD3-Medium's MMDiT 2 B,
    FLUX.1-dev's transformer 12 B, PixArt-Sigma XL's 0.6 B (the cost estimate scales by these)."""
    from synrec.tiny_generators import true_size_parameters

    assert true_size_parameters("sdxl") == 2_567_463_684  # diffusers' SDXL docs: "2.6B parameter UNet"
    assert true_size_parameters("sd3") == 2_028_328_000  # "SD3 Medium: 2B parameters"
    assert true_size_parameters("flux") == 11_901_408_320  # "12 billion parameter rectified flow transformer"
    assert round(true_size_parameters("pixart") / 1e6) == 611  # PixArt-Sigma: "0.6B"
