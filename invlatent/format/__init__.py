"""The latent file and everything that reads or writes it: safetensors bytes, ``LatentFile``,
shard sets, streaming ``project``, foreign arrays, model checkpoints and archives."""

__all__: list[str] = []
