"""The group families, one module each; importing this package registers them all."""

from invlatent.groups.families import o3, regular, sn, so2, trivial

__all__ = ["o3", "regular", "sn", "so2", "trivial"]
