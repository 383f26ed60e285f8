"""3-D molecules: QM9 geometries, an E(3)- and permutation-equivariant e3nn network, its latents.

``data`` and ``structures`` read geometries (QM9, ``.npz``, structure files through ASE),
``model`` builds the network (and the plain baseline), ``train``/``encode``/``check_model`` are
the library side of ``invlatent train mol3d``, ``encode`` and ``check``; ``foreign`` runs a
user's own 3-D encoder (TorchScript, torch.export or ONNX).
"""

__all__: list[str] = []
