"""invlatent: analyse the latents of equivariant networks through invariant projections."""

__version__ = "0.1.0"
