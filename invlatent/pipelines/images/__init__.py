"""The rotation pipeline: image data, rotations, group-equivariant CNNs, training and encoding.

``rotate`` and ``data`` need only numpy; the model modules import torch.
"""

import os

# Threads that wait for each other should sleep, not spin, on shared machines (read by OpenMP
# when torch loads; an explicit setting in the environment wins).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__: list[str] = []  # the modules are the interface: data, rotate, models, train, encode
