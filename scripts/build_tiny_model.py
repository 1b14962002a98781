"""Rule tiny_model: build one tiny random-weight model (demo/tests) in its library's own save format."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec import tiny
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821  (injected by Snakemake)
with rule_log(sm.log, f"tiny_model {sm.wildcards.kind}"):
    kind, out, seed = sm.wildcards.kind, sm.output[0], sm.params.seed
    if kind.startswith("clip-"):
        tiny.build_tiny_clip(out, arch=kind.split("-", 1)[1], seed=seed)
    elif kind == "stable-diffusion":
        tiny.build_tiny_stable_diffusion(out, seed=seed)
    else:
        tiny.build_tiny_t5(out, extra_words=sm.params.words, seed=seed)
