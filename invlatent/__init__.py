"""invlatent: analyse the latents of equivariant networks through invariant projections."""

__version__ = "0.1.0"

__all__ = ["__version__"]
