"""Real guidance (RG): a few-shot real image, noised, replaces the random noise the diffusion starts from.

The paper's code noises the reference to respaced step ``refer_img_iters`` of GLIDE's 100-step cosine schedule and
runs only the remaining reverse steps, with ``refer_img_iters`` = 15 / 20 / 35 / 40 / 50 for 16 / 8 / 4 / 2 / 1 shots
(facts 2.4). In diffusers this is an img2img start with ``strength``. We translate by *noise level*, not by the
fraction of the chain: each GLIDE setting has a signal level sqrt(alpha_bar) (0.973 ... 0.708); we find the timestep
of the target pipeline's own schedule with the same signal level (Stable Diffusion's scaled-linear schedule: t = 55 /
91 / 216 / 261 / 353, far below the naive strengths 0.15-0.50, which would noise the reference much more than the
paper did).

img2img does not start at any timestep: it starts at ``scheduler.timesteps[n - int(n * strength)]`` of the sampler's
``n``-step grid (``get_timesteps``). So :func:`grid_strength` picks the grid timestep nearest the target and the
strength that makes img2img start there; :func:`start_timestep` says which timestep a strength really starts at, and
the RG store records it with the noise std applied and aimed at. With SD's 50 PNDM steps (grid spacing 20) the
applied noise is within one grid step of the paper's.

``strength = 0`` (no noise, no denoising) returns the reference through the VAE only; diffusers itself refuses it.

**Flow-matching samplers** (SD3, FLUX: ``FlowMatchEulerDiscreteScheduler``) have no ``alphas_cumprod``; their
forward process is x_s = (1 - s) x_0 + s e. Dividing a DDPM sample sqrt(a) x_0 + sqrt(1 - a) e by
sqrt(a) + sqrt(1 - a) gives exactly that form with s = sqrt(1 - a) / (sqrt(a) + sqrt(1 - a)): the two processes
differ only by a scale of the whole sample, so the paper's noise level is the flow sigma with the same
signal-to-noise ratio (:func:`flow_sigma`). The grid is the one the family's img2img pipeline sets (SD3: the
scheduler's own shifted grid; FLUX: its linear sigmas with the resolution-dependent shift), the start is found with
the pipeline's own ``get_timesteps``, and the store records the sigma applied and its DDPM-equivalent noise std
(:func:`vp_equivalent`), comparable with the paper's.
"""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

#: refer_img_iters of the paper code's README per shot count (respaced steps out of 100)
PAPER_REFER_ITERS = {16: 15, 8: 20, 4: 35, 2: 40, 1: 50}


def glide_timestep(refer_img_iters: int, respaced: int = 100, T: int = 1000) -> int:
    """The original timestep of respaced index ``refer_img_iters - 1`` (improved-diffusion's even spacing)."""
    return round((refer_img_iters - 1) * (T - 1) / (respaced - 1))


def glide_sqrt_alpha_bar(t: int, T: int = 1000, s: float = 0.008) -> float:
    """sqrt(alpha_bar_t) of GLIDE's cosine schedule (betas clipped at 0.999, as improved-diffusion builds them)."""
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    acp = 1.0
    for i in range(t + 1):
        acp *= 1.0 - min(1.0 - f((i + 1) / T) / f(i / T), 0.999)
    return math.sqrt(acp)


def matching_timestep(alphas_cumprod, target_sqrt_alpha_bar: float) -> int:
    """The timestep of the pipeline's schedule whose signal level sqrt(alpha_bar) is nearest the target."""
    sa = np.sqrt(np.asarray(alphas_cumprod, dtype=np.float64))
    return int(np.argmin(np.abs(sa - target_sqrt_alpha_bar)))


def paper_sqrt_alpha_bar(shots: int, refer_iters: dict[int, int] | None = None) -> float:
    """The paper's signal level for ``shots`` shots (an unlisted count takes the nearest listed one)."""
    table = {int(k): v for k, v in (refer_iters or PAPER_REFER_ITERS).items()}
    shots = shots if shots in table else min(table, key=lambda k: abs(k - shots))
    return glide_sqrt_alpha_bar(glide_timestep(table[shots]))


def paper_timestep(shots: int, alphas_cumprod, refer_iters: dict[int, int] | None = None) -> int:
    """The timestep of this schedule with the paper's noise level for ``shots`` shots."""
    return matching_timestep(alphas_cumprod, paper_sqrt_alpha_bar(shots, refer_iters))


def _grid(scheduler, num_inference_steps: int):
    sched = copy.deepcopy(scheduler)  # set_timesteps mutates; the pipeline's own scheduler stays as it was
    sched.set_timesteps(num_inference_steps)
    return sched.timesteps, sched.order


def start_timestep(scheduler, num_inference_steps: int, strength: float) -> int | None:
    """The timestep diffusers' img2img noises the reference to and starts denoising from (its ``get_timesteps``);
    None when the strength leaves no step."""
    timesteps, order = _grid(scheduler, num_inference_steps)
    steps = min(int(num_inference_steps * strength), num_inference_steps)
    return int(timesteps[(num_inference_steps - steps) * order]) if steps else None


def grid_strength(scheduler, num_inference_steps: int, target_timestep: int) -> float:
    """The img2img strength that starts at the grid timestep nearest ``target_timestep``."""
    timesteps, order = _grid(scheduler, num_inference_steps)
    n = num_inference_steps
    k = min(range(1, n + 1), key=lambda k: (abs(int(timesteps[(n - k) * order]) - target_timestep), k))
    return min(1.0, (k + 0.5) / n)  # int(n * strength) == k without float round-off


def rg_strength(shots: int, scheduler, num_inference_steps: int, refer_iters: dict[int, int] | None = None) -> float:
    """The strength for ``shots`` real shots per class: the paper's noise level, on this pipeline's schedule and
    sampler grid."""
    return grid_strength(scheduler, num_inference_steps, paper_timestep(shots, scheduler.alphas_cumprod, refer_iters))


def noise_std(alphas_cumprod, timestep: int | None) -> float:
    """sqrt(1 - alpha_bar_t): the std of the noise added to the (unit-scaled) reference at ``timestep``."""
    return 0.0 if timestep is None else float(math.sqrt(1.0 - float(alphas_cumprod[timestep])))


def fit_reference(img: Image.Image, width: int, height: int) -> Image.Image:
    """Resize the short side and centre-crop to the generation size (the paper's code resized without cropping,
    which only works one image at a time)."""
    img = img.convert("RGB")
    scale = max(width / img.width, height / img.height)
    img = img.resize((max(width, round(img.width * scale)), max(height, round(img.height * scale))), Image.BICUBIC)
    left, top = (img.width - width) // 2, (img.height - height) // 2
    return img.crop((left, top, left + width, top + height))


@torch.no_grad()
def vae_roundtrip(pipe, images: list[Image.Image]) -> np.ndarray:
    """What strength 0 means: the references encoded and decoded by the pipeline's VAE, as floats in [0, 1]."""
    x = pipe.image_processor.preprocess(images).to(pipe.device, pipe.vae.dtype)
    latents = pipe.vae.encode(x).latent_dist.mode()
    out = pipe.vae.decode(latents).sample
    return pipe.image_processor.postprocess(out, output_type="np")


class GuidedPipeline:
    """Wrap an img2img pipeline so it can be called like text-to-image with per-image references and a strength."""

    def __init__(self, pipe, strength: float):
        self.pipe, self.strength = pipe, float(strength)

    def __call__(self, *, image, **kw):
        if self.strength <= 0.0:
            return type("Out", (), {"images": vae_roundtrip(self.pipe, image), "nsfw_content_detected": None})()
        return self.pipe(image=image, strength=self.strength, **kw)


def is_flow_matching(scheduler) -> bool:
    """A flow-matching sampler (SD3, FLUX): it noises with ``scale_noise`` on ``sigmas``, not on ``alphas_cumprod``."""
    return not hasattr(scheduler, "alphas_cumprod") and hasattr(scheduler, "scale_noise")


def flow_sigma(sqrt_alpha_bar: float) -> float:
    """The flow-matching sigma with the signal-to-noise ratio of a DDPM step with this sqrt(alpha_bar)."""
    noise = math.sqrt(max(0.0, 1.0 - sqrt_alpha_bar**2))
    return noise / (sqrt_alpha_bar + noise)


def vp_equivalent(sigma: float) -> tuple[float, float]:
    """``(sqrt_alpha_bar, noise_std)`` of the DDPM step with the SNR of flow sigma ``sigma`` (inverse of
    :func:`flow_sigma`)."""
    norm = math.hypot(1.0 - sigma, sigma)
    return (1.0 - sigma) / norm, sigma / norm


def _flow_scheduler(pipe, num_inference_steps: int, height: int, width: int):
    """A copy of the pipeline's flow scheduler with the grid its img2img call sets for this size."""
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift

    sched = copy.deepcopy(pipe.scheduler)
    cfg, n = sched.config, num_inference_steps
    flux = "Flux" in type(pipe).__name__
    kw = {}
    if flux or cfg.get("use_dynamic_shifting"):
        patch = 2 if flux else pipe.transformer.config.patch_size
        seq = (height // pipe.vae_scale_factor // patch) * (width // pipe.vae_scale_factor // patch)
        kw["mu"] = calculate_shift(seq, cfg.get("base_image_seq_len", 256), cfg.get("max_image_seq_len", 4096),
                                   cfg.get("base_shift", 0.5), cfg.get("max_shift", 1.15 if flux else 1.16))
    if flux:
        sched.set_timesteps(sigmas=np.linspace(1.0, 1 / n, n), **kw)
    else:
        sched.set_timesteps(n, **kw)
    return sched


def flow_start(pipe, num_inference_steps: int, strength: float, height: int, width: int,
               sched=None) -> tuple[float, float] | None:
    """``(timestep, sigma)`` a flow-matching img2img pipeline starts from at ``strength`` (its own
    ``get_timesteps`` on its own grid; ``sched``: that grid already set); None when the strength leaves no step."""
    sched = sched or _flow_scheduler(pipe, num_inference_steps, height, width)
    _, steps = type(pipe).get_timesteps(SimpleNamespace(scheduler=sched), num_inference_steps, strength, "cpu")
    if steps < 1:
        return None
    begin = num_inference_steps - steps
    return float(sched.timesteps[begin]), float(sched.sigmas[begin])


def flow_strength(pipe, num_inference_steps: int, target_sigma: float, height: int, width: int) -> float:
    """The strength whose img2img start has the grid sigma nearest ``target_sigma`` (the smallest such strength)."""
    best, sched = None, _flow_scheduler(pipe, num_inference_steps, height, width)  # the grid, set once
    for j in range(1, 2 * num_inference_steps + 1):
        strength = j / (2 * num_inference_steps)
        start = flow_start(pipe, num_inference_steps, strength, height, width, sched)
        if start is not None and (best is None or abs(start[1] - target_sigma) < best[0] - 1e-12):
            best = (abs(start[1] - target_sigma), strength)
    return best[1]


def rg_settings(pipe, shots: int, num_inference_steps: int, height: int, width: int,
                refer_iters: dict[int, int] | None = None, strength: float | None = None) -> dict:
    """Where real guidance starts on this img2img pipeline, as the RG store records it: ``strength``,
    ``start_timestep`` (-1: none), ``noise_std`` applied (DDPM-equivalent for a flow sampler) and the paper's
    ``noise_std_paper``; a flow sampler adds the ``sigma`` applied and the ``sigma_paper`` aimed at. ``strength``:
    a fixed one instead of the paper's noise level for ``shots``."""
    target = paper_sqrt_alpha_bar(shots, refer_iters)
    paper_std = math.sqrt(1 - target**2)
    sched, n = pipe.scheduler, num_inference_steps
    if not is_flow_matching(sched):
        strength = strength if strength is not None else rg_strength(shots, sched, n, refer_iters)
        t0 = start_timestep(sched, n, strength)
        return {"strength": strength, "start_timestep": -1 if t0 is None else t0,
                "noise_std": noise_std(sched.alphas_cumprod, t0), "noise_std_paper": paper_std}
    strength = strength if strength is not None else flow_strength(pipe, n, flow_sigma(target), height, width)
    start = flow_start(pipe, n, strength, height, width) if strength > 0 else None
    t0, sigma = start if start is not None else (-1, 0.0)
    return {"strength": strength, "start_timestep": t0, "noise_std": vp_equivalent(sigma)[1],
            "noise_std_paper": paper_std, "sigma": sigma, "sigma_paper": flow_sigma(target)}
