"""Projections as torch modules (``invlatent.nn.Projection``)."""

__all__: list[str] = []
