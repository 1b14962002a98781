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
    matching_timestep,
    noise_std,
    paper_sqrt_alpha_bar,
    paper_timestep,
    rg_strength,
    start_timestep,
    vae_roundtrip,
)


def test_paper_settings_reproduce_the_noise_levels_of_the_authors_code():
    # facts 2.4: refer_img_iters -> original timestep and sqrt(alpha_bar) under GLIDE's cosine schedule
    expected = {15: (141, 0.973), 20: (192, 0.951), 35: (343, 0.853), 40: (394, 0.809), 50: (494, 0.708)}
    for iters, (t, sab) in expected.items():
        assert glide_timestep(iters) == t
        assert glide_sqrt_alpha_bar(t) == pytest.approx(sab, abs=5e-4)
    assert PAPER_REFER_ITERS[16] == 15 and PAPER_REFER_ITERS[1] == 50


def sd_scheduler():
    """Stable Diffusion v1-4's sampler as its scheduler_config.json sets it: PNDM, scaled-linear betas, offset 1."""
    from diffusers import PNDMScheduler

    return PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                         skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)


def test_the_papers_noise_level_maps_to_a_timestep_of_the_target_schedule():
    acp = sd_scheduler().alphas_cumprod
    got = {k: paper_timestep(k, acp) for k in (16, 8, 4, 2, 1)}
    assert got == {16: 55, 8: 91, 4: 216, 2: 261, 1: 353}  # fewer shots, more noise
    # on a schedule identical to GLIDE's the translation is the identity
    glide = [glide_sqrt_alpha_bar(t) ** 2 for t in range(0, 600)] + [0.0] * 400
    assert matching_timestep(glide, glide_sqrt_alpha_bar(141)) == 141
    assert paper_timestep(3, acp) in (got[2], got[4])  # an unlisted shot count takes the nearest listed one


def test_img2img_starts_within_half_a_grid_step_of_the_papers_noise_level():
    """img2img starts on the sampler's grid (50 PNDM steps: every 20th timestep), not at any timestep. The strength
    is picked on that grid, so the noise applied is the paper's within one grid step; the continuous strength
    (t + 1) / 1000 would start at 41 / 81 / 201 / 261 / 341 and miss the paper's 16-shot and 1-shot levels."""
    sched = sd_scheduler()
    acp = sched.alphas_cumprod
    for shots in (16, 8, 4, 2, 1):
        target = paper_timestep(shots, acp)
        t0 = start_timestep(sched, 50, rg_strength(shots, sched, 50))
        assert abs(t0 - target) <= 10, (shots, t0, target)
        below, above = noise_std(acp, max(0, target - 20)), noise_std(acp, min(999, target + 20))
        assert below < noise_std(acp, t0) < above
        paper = (1 - paper_sqrt_alpha_bar(shots) ** 2) ** 0.5
        assert abs(noise_std(acp, t0) - paper) < 0.03, (shots, noise_std(acp, t0), paper)
    # the figures docs/differences.md gives: start timesteps and noise std applied vs the paper's
    starts = [start_timestep(sched, 50, rg_strength(k, sched, 50)) for k in (16, 8, 4, 2, 1)]
    assert starts == [61, 81, 221, 261, 361]
    assert [round(noise_std(acp, t), 3) for t in starts] == [0.245, 0.288, 0.528, 0.587, 0.715]
    assert [round((1 - paper_sqrt_alpha_bar(k) ** 2) ** 0.5, 3) for k in (16, 8, 4, 2, 1)] == [
        0.231, 0.308, 0.521, 0.587, 0.706]
    naive = {k: start_timestep(sched, 50, (paper_timestep(k, acp) + 1) / 1000) for k in (16, 8, 4, 2, 1)}
    assert naive == {16: 41, 8: 81, 4: 201, 2: 261, 1: 341}
    assert start_timestep(sched, 50, 0.01) is None  # no step at all


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
def trained_vae_i2i(demo_models):
    """The demo's Stable Diffusion (its VAE trained on the drawn pictures), from the session's one build of the demo
    models that the workflow tests use too, instead of a VAE trained here again (strength 0 runs no UNet step)."""
    return load_text_to_image({"model": str(demo_models / "stable-diffusion")}, img2img=True)


@pytest.mark.slow  # the demo models' build, shared with the workflow tests, when it is not made yet
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


def test_the_pipeline_noises_the_reference_at_the_timestep_start_timestep_names(i2i):
    """The timestep the RG store records is the one diffusers' img2img really adds noise at."""
    seen = []
    add_noise = i2i.scheduler.add_noise

    def spy(original, noise, timesteps):
        seen.append(int(timesteps.flatten()[0]))
        return add_noise(original, noise, timesteps)

    i2i.scheduler.add_noise = spy
    try:
        strength = rg_strength(4, i2i.scheduler, 20)
        run(i2i, strength, refs()[:1])
    finally:
        i2i.scheduler.add_noise = add_noise
    assert seen == [start_timestep(i2i.scheduler, 20, strength)]
    assert abs(seen[0] - paper_timestep(4, i2i.scheduler.alphas_cumprod)) <= 1000 // 20 // 2 + 1
