"""synrec: synthetic data from text-to-image models for image recognition (He et al., ICLR 2023), as a library.

One module per concept of the paper; the Snakemake workflow in ``workflow/`` chains them.
"""

__version__ = "0.1.0"
