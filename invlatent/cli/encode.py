"""``invlatent encode``: run an encoder over data and write its latents with their group action."""

from __future__ import annotations

from typing import Annotated

import typer

from invlatent.cli._common import at_least, cli_errors, fail, one_of

Opt = typer.Option


@cli_errors
def encode(
    model: Annotated[
        str,
        typer.Argument(
            help="Checkpoint from `invlatent train`, or a TorchScript / torch.export / ONNX file."
        ),
    ],
    data: Annotated[
        str, typer.Argument(help="Data: mnist, digits, qm9, a folder, .npz, IDX, .smi/.csv.")
    ],
    torchscript: Annotated[
        bool, Opt(help="MODEL is a TorchScript / torch.export encoder.")
    ] = False,
    onnx: Annotated[
        bool, Opt(help="MODEL is an ONNX encoder (run by onnxruntime on the CPU).")
    ] = False,
    lift: Annotated[
        str | None,
        Opt(
            help="Images: encode every pose of cN or dN and stack them: z [B, D, |G|] with "
            "action cN/dN (exact for quarter turns and the mirror)."
        ),
    ] = None,
    group: Annotated[
        str | None,
        Opt(
            help="Output action of a foreign encoder: c8, so2, ... for images; sn*o3:IRREPS "
            "(node features [n, D]) or o3:IRREPS (one vector [D]) for a 3-D encoder of "
            "structures (positions float32 [n, 3], atomic numbers int64 [n])."
        ),
    ] = None,
    freqs: Annotated[
        str | None, Opt(help="so2 frequencies of a TorchScript encoder's output.")
    ] = None,
    rotate: Annotated[
        str,
        Opt(
            help="Images: none, random, cN or angles=a,b,... (degrees). 3-D molecules: none, "
            "random (Haar-random rotations, g = R), so3 or o3 (= random --improper)."
        ),
    ] = "none",
    improper: Annotated[
        bool,
        Opt(help="3-D molecules with --rotate random: include inversions (det R = -1, O(3))."),
    ] = False,
    copies: Annotated[int, Opt(help="Images: rotated copies per image, sharing an id.")] = 1,
    permute: Annotated[
        str, Opt(help="Molecules: none or random node order (recorded in g).")
    ] = "none",
    layer: Annotated[
        str | None,
        Opt(
            help="Which named layer is the latent (molecules: mean or sample; group CNN: blockK, "
            "blockK-map for the feature map, invariant, logits)."
        ),
    ] = None,
    smiles_col: Annotated[
        str | None, Opt(help="Molecules from a CSV: the SMILES column (default: smiles).")
    ] = None,
    labels: Annotated[
        str | None,
        Opt(help="3-D structures: the integer per-frame property that holds class labels."),
    ] = None,
    split: Annotated[str, Opt(help="Which part of the data: all, train, val or test.")] = "all",
    limit: Annotated[
        int | None,
        Opt(
            help="Encode at most N samples: a fixed sample stratified by class (images) or "
            "split (molecules), in input order."
        ),
    ] = None,
    batch_size: Annotated[int, Opt(help="Samples per forward pass.")] = 256,
    seed: Annotated[int, Opt(help="Seed for rotations, permutations and sampling.")] = 0,
    device: Annotated[str, Opt(help="cpu or cuda.")] = "cpu",
    output: Annotated[
        str | None, Opt("-o", "--output", help="Output file (default: stdout).")
    ] = None,
) -> None:
    """Encode data with a trained (or foreign) encoder into a latent file."""
    from invlatent.format.latentfile import ensure_writable_output
    from invlatent.format.shards import prepare_output, write_latents
    from invlatent.sampling import PARTS

    ensure_writable_output(output)
    at_least(batch_size=(batch_size, 1), copies=(copies, 1), limit=(limit, 1), seed=(seed, 0))
    one_of(split=(split, PARTS), permute=(permute, ("none", "random")))
    prepare_output(output, device)
    common = dict(split=split, limit=limit, batch_size=batch_size, seed=seed, device=device)
    given = dict(rotate=rotate, copies=copies, permute=permute, layer=layer, lift=lift)
    given["labels"] = labels
    if (torchscript or onnx) and group and _acts_on_structures(group, data):
        if torchscript and onnx:
            fail("--torchscript and --onnx exclude each other: say which format MODEL is")
        if improper:
            given["rotate"] = _improper_rotate("mol3d", rotate)
        from invlatent.pipelines.mol3d.encode import encode_foreign

        opts = _family_options("foreign3d", given)
        lf = encode_foreign(model, data, group=group, onnx=onnx, **opts, **common)
    elif torchscript or onnx:
        if improper:
            fail("--improper is for 3-D molecule models (train mol3d), not foreign image encoders")
        if torchscript and onnx:
            fail("--torchscript and --onnx exclude each other: say which format MODEL is")
        flag = "--onnx" if onnx else "--torchscript"
        if smiles_col is not None:
            fail(f"--smiles-col is for molecule models, not a {flag[2:]} image encoder")
        if not group and not lift:
            fail(f"{flag} needs --group to declare the output's action (e.g. --group c8)")
        from invlatent.pipelines.images.encode import encode_torchscript

        action = f"so2:{freqs}" if freqs and group and group.lower() == "so2" else group
        opts = _family_options("foreign", given)
        lf = encode_torchscript(model, data, action=action, onnx=onnx, **opts, **common)
    else:
        family, encoder = _family_encoder(model)
        if smiles_col is not None:
            if family != "molecules":
                fail("--smiles-col is for molecule models (graph-vae)")
            common["smiles_col"] = smiles_col
        if improper:
            given["rotate"] = _improper_rotate(family, rotate)
        lf = encoder(model, data, **_family_options(family, given), **common)
    write_latents(lf, output, device)


# Per model family: the options it takes, and why each other option is refused when it is given
# (differs from its default).
FAMILY_OPTIONS = {
    "images": ("rotate", "copies", "layer", "lift"),
    "foreign": ("rotate", "copies", "lift"),
    "molecules": ("permute", "layer"),
    "mol3d": ("rotate", "copies", "permute", "layer", "labels"),
    "foreign3d": ("rotate", "copies", "permute", "labels"),
}
DEFAULTS = {
    "rotate": "none", "copies": 1, "permute": "none", "layer": None, "lift": None, "labels": None
}  # fmt: skip
LABELS = "--labels names an integer property of a 3-D structure file (mol3d or a 3-D encoder)"
REFUSALS = {
    ("images", "permute"): "--permute applies to molecules; rotate images with --rotate",
    ("foreign", "permute"): "--permute applies to molecules; rotate images with --rotate",
    ("foreign", "layer"): "--layer applies to invlatent checkpoints, not to a foreign encoder",
    ("molecules", "rotate"): "--rotate is for image models; molecules take --permute none|random",
    ("molecules", "copies"): "--copies is for image models; molecule models encode one copy",
    ("molecules", "lift"): "--lift turns images; it does not apply to molecule models",
    ("mol3d", "lift"): "--lift turns images; it does not apply to molecule models",
    ("foreign3d", "lift"): "--lift turns images; a 3-D encoder's group is given by --group",
    ("foreign3d", "layer"): "--layer applies to invlatent checkpoints, not to a foreign encoder",
    ("images", "labels"): LABELS,
    ("foreign", "labels"): LABELS,
    ("molecules", "labels"): LABELS,
}


def _family_options(family: str, given: dict) -> dict:
    """The options ``family``'s encoder takes; one line for a given option it does not."""
    for name, value in given.items():
        if name not in FAMILY_OPTIONS[family] and value != DEFAULTS[name]:
            fail(REFUSALS[family, name])
    return {k: v for k, v in given.items() if k in FAMILY_OPTIONS[family]}


def _improper_rotate(family: str, rotate: str) -> str:
    """The 3-D molecule pose of ``--rotate random --improper``: Haar-random elements of O(3)."""
    if family != "mol3d":
        fail("--improper is for 3-D molecule models (train mol3d): inversions act on 3-D points")
    if rotate not in ("random", "o3"):
        fail(f"--improper needs --rotate random (got --rotate {rotate})")
    return "o3"


def _acts_on_structures(group: str, data: str) -> bool:
    """Whether a foreign encoder is one of 3-D structures: ``--group`` acts on rotations of
    3-D points (o3, sn*o3), or the data are structures (then ``sn`` or ``trivial`` too)."""
    from invlatent.groups.action import Action
    from invlatent.pipelines.mol3d.structures import STRUCTURE_SUFFIXES

    if data.lower() == "qm9" or data.lower().endswith(STRUCTURE_SUFFIXES):
        return True
    return Action.parse(group).g_kind in ("rotation", "rotation+perm")


def _family_encoder(model: str):
    """The model family that trained ``model`` and its encode function."""
    from invlatent.format.checkpoint import read_config

    family = read_config(model).get("family")
    if family == "images":
        from invlatent.pipelines.images.encode import encode_checkpoint
    elif family == "molecules":
        from invlatent.pipelines.molecules.encode import encode_checkpoint
    elif family == "mol3d":
        from invlatent.pipelines.mol3d.encode import encode_checkpoint
    else:
        fail(f"{model}: unknown model family {family!r} in its config")
    return family, encode_checkpoint
