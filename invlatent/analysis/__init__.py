"""What measures and judges latents: ``check``, ``probe``, ``recommend``, ``report``, ``viz`` and
``inspect``. Reads latent files; needs no model."""

__all__: list[str] = []
