"""Default architecture and training options of the graph VAE, importable without numpy (for a
fast --help)."""

MODEL_DEFAULTS = dict(
    latent_dim=1,
    hidden=64,
    enc_layers=4,
    dec_layers=3,
    heads=4,
    fourier=32,
    fourier_scale=4.0,
    init_logvar=-6.0,
    edge_mlp=0,
    edge_layers=1,
    rank_pe=True,
)

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
    ema=0.999,
    smiles_col=None,
)

SEARCH_CANDIDATES = 32  # graphs re-encoded per latent by ``decode --mode search``
