"""Default architecture and training recipe of the 3-D molecule networks, importable without
numpy or torch (for a fast --help)."""

LAYERS = ("nodes", "graph", "invariant")  # the latents `encode --layer` takes

MODEL_DEFAULTS = dict(
    irreps="32x0e+8x1o+4x2e",
    layers=2,
    lmax=2,
    r_cut=5.0,
    n_basis=8,
    radial_hidden=32,
    embed=16,
    edge_scalars=8,  # scalar channels sent along edges (the costly part on CPU)
    readout_hidden=32,
    width=40,  # the plain (non-equivariant) baseline's node width
)

TRAIN_DEFAULTS = dict(
    targets="u0",
    limit=None,
    epochs=2,
    batch_size=64,
    lr=5e-3,
    ema=0.995,
    threads=1,
    max_minutes=20.0,
    augment=None,  # random rotations of the inputs: on for the plain baseline, off for e3nn
    monitor=500,  # validation molecules measured at every eighth of the schedule
)

# Targets that grow with the molecule: predicted as a sum over atoms, after subtracting a
# least-squares fit on the element counts; the others are a mean over atoms.
EXTENSIVE = ("alpha", "r2", "zpve", "u0", "u298", "h298", "g298", "cv")
ARCHITECTURES = ("e3nn", "plain")
