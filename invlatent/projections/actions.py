"""The action a user already holds, as an invlatent ``Action``: a string, an ``Action``, an
e3nn ``Irreps`` (→ ``o3``) or an e2cnn/escnn ``FieldType`` of regular or trivial fields
(→ ``cN``/``dN``/``trivial``). Foreign objects are recognised by their attributes (duck typing),
so neither e3nn nor escnn is imported here."""

from __future__ import annotations

from invlatent.errors import InvlatentError
from invlatent.groups.action import Action


def as_action(action) -> Action:
    """``action`` as an ``Action``, or one ``InvlatentError`` saying why it has no family."""
    if isinstance(action, Action | str):
        return Action.parse(action)
    if type(action).__name__ == "Irreps" and hasattr(action, "lmax"):
        return Action.parse(f"o3:{action}" if len(action) else "trivial")
    if hasattr(action, "representations") and hasattr(action, "gspace"):
        return Action.parse(_field_type_action(action))
    raise InvlatentError(
        f"action: expected an action string, an Action, an e3nn Irreps or an escnn FieldType, "
        f"got {type(action).__name__}"
    )


def _field_type_action(field_type) -> str:
    """``cN``/``dN`` for a field type of regular fields only, ``trivial`` for trivial only."""
    reps = list(field_type.representations)
    kinds = {_rep_kind(r) for r in reps}
    if kinds == {"trivial"}:
        return "trivial"
    if kinds != {"regular"}:
        names = sorted({str(getattr(r, "name", r)) for r in reps if _rep_kind(r) != "regular"})
        raise InvlatentError(
            f"action: a FieldType of {', '.join(names)} fields has no invlatent family yet "
            "(regular fields → cN/dN, trivial fields → trivial; no mixture)"
        )
    group = field_type.gspace.fibergroup
    order = int(group.order())
    name = type(group).__name__.lower()
    if name.startswith("cyclic"):
        return f"c{order}"
    if name.startswith("dihedral"):
        return f"d{order // 2}"
    raise InvlatentError(
        f"action: regular fields of {type(group).__name__} have no invlatent family "
        "(cyclic → cN, dihedral → dN)"
    )


def _rep_kind(rep) -> str:
    if getattr(rep, "name", None) == "regular":
        return "regular"
    is_trivial = getattr(rep, "is_trivial", None)
    return "trivial" if callable(is_trivial) and is_trivial() else "other"
