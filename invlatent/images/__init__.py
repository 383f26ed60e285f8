"""The rotation pipeline: image data, rotations, group-equivariant CNNs, training and encoding.

``rotate`` and ``data`` need only numpy; the model modules import torch.
"""
