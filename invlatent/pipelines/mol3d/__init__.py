"""3-D molecules: QM9 geometries, an E(3)- and permutation-equivariant e3nn network, its latents.

``data``/``xyz`` read geometries, ``model`` builds the network (and the plain baseline),
``train``/``encode``/``check_model`` are the library side of ``invlatent train mol3d``,
``encode`` and ``check``.
"""

__all__: list[str] = []
