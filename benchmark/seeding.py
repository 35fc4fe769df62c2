"""Independent, reproducible seeds derived from the run seed.

Each model's initialisation and each model's batch order per epoch get their own
seed, so a model trains the same way whether it is trained alone or stacked with
others, and a resumed run continues exactly where the killed one stopped.
"""

import hashlib


def derive(*parts) -> int:
    """A 63-bit seed determined by ``parts`` (e.g. ``derive(seed, "init", k)``)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
