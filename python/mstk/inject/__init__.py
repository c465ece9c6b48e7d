"""Query entry errors (QE-RAG): deterministic keyboard, visual and spelling errors.

``Injector`` runs the Rust kernel; ``Rng`` reproduces its random streams; error models
are plugins (``register_error_models``). See docs/inject-errors.md.
"""

from mstk.inject.injector import (
    DEFAULT_TYPES,
    FIDELITY_NOTE,
    FORMAT_VERSION,
    Corruption,
    Edit,
    Injector,
    Rng,
    parse_rate,
)

__all__ = ["DEFAULT_TYPES", "FIDELITY_NOTE", "FORMAT_VERSION", "Corruption", "Edit", "Injector", "Rng", "parse_rate"]
