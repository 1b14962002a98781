"""One exception type for every user-facing failure.

Every message is a single line that names the file, key or model at fault and what was expected, so that a
Snakemake log ends with one readable sentence instead of a traceback through three libraries.
"""


class SynrecError(Exception):
    """A bad input (file, config key, model name, dataset) explained in one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
