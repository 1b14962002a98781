import numpy as np
import pytest
import torch
from PIL import Image

from synrec import demo_data
from synrec.models import load_text_to_image
from synrec.real_guidance import (
    PAPER_REFER_ITERS,
    GuidedPipeline,
    fit_reference,
    glide_sqrt_alpha_bar,
    glide_timestep,
    matching_strength,
    rg_strength,
    vae_roundtrip,
)


def test_paper_settings_reproduce_the_noise_levels_of_the_authors_code():
    # facts 2.4: refer_img_iters -> original timestep and sqrt(alpha_bar) under GLIDE's cosine schedule
    expected = {15: (141, 0.973), 20: (192, 0.951), 35: (343, 0.853), 40: (394, 0.809), 50: (494, 0.708)}
    for iters, (t, sab) in expected.items():
        assert glide_timestep(iters) == t
        assert glide_sqrt_alpha_bar(t) == pytest.approx(sab, abs=5e-4)
    assert PAPER_REFER_ITERS[16] == 15 and PAPER_REFER_ITERS[1] == 50


def test_strength_matches_the_noise_level_on_the_target_schedule():
    from diffusers import DDIMScheduler

    sd = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear").alphas_cumprod
    got = {k: rg_strength(k, sd) for k in (16, 8, 4, 2, 1)}
    assert got == {16: 0.056, 8: 0.092, 4: 0.217, 2: 0.262, 1: 0.354}  # SD timesteps 55, 91, 216, 261, 353
    assert list(got.values()) == sorted(got.values())  # fewer shots, more noise
    # on a schedule identical to GLIDE's the translation is the identity: strength = (t + 1) / T
    glide = [glide_sqrt_alpha_bar(t) ** 2 for t in range(0, 600)] + [0.0] * 400
    assert matching_strength(glide, glide_sqrt_alpha_bar(141)) == 0.142
    assert rg_strength(3, sd) in (got[2], got[4])  # an unlisted shot count takes the nearest listed one


def test_fit_reference_resizes_and_centre_crops():
    img = Image.fromarray(np.zeros((40, 100, 3), np.uint8))
    out = fit_reference(img, 32, 32)
    assert out.size == (32, 32) and out.mode == "RGB"


@pytest.fixture(scope="module")
def i2i(tiny_models):
    return load_text_to_image({"model": tiny_models["sd"]}, img2img=True)


def refs():
    rng = np.random.default_rng(0)
    return [Image.fromarray(demo_data.draw_shape("red circle", 32, rng)),
            Image.fromarray(demo_data.draw_shape("blue square", 32, rng))]


def run(pipe, strength, images, seed=0):
    out = GuidedPipeline(pipe, strength)(prompt=["a photo"] * len(images), image=images, num_inference_steps=20,
                                         guidance_scale=3.0, output_type="np",
                                         generator=[torch.Generator().manual_seed(seed) for _ in images])
    return out.images


@pytest.fixture(scope="module")
def trained_vae_i2i(tiny_models, tmp_path_factory):
    """The tiny pipeline with its VAE trained on the drawn pictures (the UNet left random: strength 0 skips it)."""
    from synrec.demo_models import train_demo_stable_diffusion

    out = train_demo_stable_diffusion(tmp_path_factory.mktemp("sd") / "sd", tiny_models["clip_rn"], seed=0,
                                      vae_steps=300, unet_steps=0)
    return load_text_to_image({"model": str(out)}, img2img=True)


def test_strength_zero_returns_the_reference_images(trained_vae_i2i):
    images = refs()
    out = run(trained_vae_i2i, 0.0, images)
    assert out.shape == (2, 32, 32, 3)
    ref = np.stack([np.asarray(im, np.float32) / 255 for im in images])
    own = np.abs(out - ref).mean(axis=(1, 2, 3))
    swapped = np.abs(out - ref[::-1]).mean(axis=(1, 2, 3))
    assert own.max() < 0.12 and (own < 0.7 * swapped).all(), (own, swapped)  # each is its own reference, not the other
    np.testing.assert_allclose(out, vae_roundtrip(trained_vae_i2i, images), atol=1e-6)  # no denoising step ran


def test_low_strength_follows_the_reference_and_full_strength_ignores_it(i2i):
    a, b = refs()
    def gap(strength):  # how different the outputs are for two different references, same seed
        return np.abs(run(i2i, strength, [a])[0] - run(i2i, strength, [b])[0]).mean()
    assert gap(0.1) > 5 * gap(1.0)
    assert gap(1.0) < 0.02
