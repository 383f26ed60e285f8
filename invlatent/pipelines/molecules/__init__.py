"""The molecule pipeline: QM9 and SMILES data, a permutation-equivariant graph VAE, and its tools.

Modules: ``graphs`` (SMILES ↔ dense padded graphs),
``model`` (encoder and decoder), ``train``, ``encode``, ``decode``, ``search`` (encoder-consistent
decoding), ``interpolate``, ``draw``.
Everything here imports torch or RDKit lazily or on import of its own module, never from
here. QM9 itself is read by ``invlatent.pipelines.qm9``.
"""

__all__: list[str] = []
