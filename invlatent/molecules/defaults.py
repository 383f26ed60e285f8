"""Default training options of the graph VAE, importable without numpy (for fast --help)."""

TRAIN_DEFAULTS = dict(
    epochs=60,
    batch_size=128,
    lr=3e-3,
    beta=0.01,
    warmup=5,
    threads=2,
    limit=None,
    max_minutes=None,
    sym_perms=16,
    smiles_col=None,
)
