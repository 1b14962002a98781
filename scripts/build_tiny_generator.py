"""Rule tiny_generator: a random-weight tiny pipeline of one text-to-image family, in diffusers' folder layout."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.runlog import rule_log
from synrec.tiny_generators import build_tiny_generator

sm = snakemake  # noqa: F821  (injected by Snakemake)
with rule_log(sm.log, f"tiny_generator {sm.wildcards.family}"):
    print(f"wrote {build_tiny_generator(sm.output[0], sm.wildcards.family, sm.params.seed)}")
