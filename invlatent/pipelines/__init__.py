"""Data, models, training and encoding for each kind of input: ``images`` (group CNNs),
``molecules`` (graph VAE) and ``mol3d`` (e3nn networks on 3-D geometries); ``qm9`` reads the
data set both molecule pipelines use. The pipelines do not import each other."""

__all__: list[str] = []
