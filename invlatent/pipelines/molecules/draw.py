"""Pictures of interpolation paths: one row of molecules per path, raw and sorted rows labelled."""

from __future__ import annotations

from invlatent.errors import InvlatentError


def draw_paths(rows: list[tuple[str, list[str | None]]], path: str, size: int = 160) -> None:
    """Draw rows of SMILES (None = invalid, drawn empty) as a PNG grid at ``path``."""
    import io

    from rdkit import Chem
    from rdkit.Chem import Draw

    from invlatent.format.latentfile import write_atomic

    if not path.lower().endswith(".png"):
        raise InvlatentError(f"{path}: pictures are written as PNG (use a .png name)")
    per_row = max(len(smiles) for _, smiles in rows)
    mols, legends = [], []
    for label, smiles in rows:
        for i, s in enumerate(smiles + [None] * (per_row - len(smiles))):
            mol = Chem.MolFromSmiles(s) if s else None
            mols.append(mol if mol is not None else Chem.Mol())
            legends.append(f"{label} {i}" if mol is not None else f"{label} {i}: invalid")
    image = Draw.MolsToGridImage(mols, molsPerRow=per_row, subImgSize=(size, size), legends=legends)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    write_atomic([buf.getvalue()], path)
