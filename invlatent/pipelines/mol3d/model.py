"""An E(3)- and permutation-equivariant message-passing network built with e3nn (NequIP-like).

Atoms are nodes; every pair of atoms of a molecule closer than ``r_cut`` is an edge. Each layer
sends the tensor product of the sender's features with the spherical harmonics of the edge
direction, weighted per path and channel by an MLP of a Bessel radial basis times a smooth cosine
cut-off (so an edge that crosses the cut-off changes nothing), sums the messages, mixes them
linearly, adds a species-dependent self connection and applies a gate non-linearity. Positions
enter only through edge vectors (translation invariance), messages are summed (atom order), and
every operation is an e3nn equivariant map of irreps ``0e, 1o, 2e, ...`` (rotations and
inversion), so the layers are exactly equivariant up to float rounding.

Latents: ``nodes`` are the last layer's per-atom features (irreps ``irreps``), ``graph`` their
sum over atoms, ``invariant`` the summed scalar channels the readout sees.
"""

from __future__ import annotations

import math

import torch
from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from e3nn.nn import FullyConnectedNet, Gate
from torch import nn
from torch.nn import functional as F


def edges(pos: torch.Tensor, mask: torch.Tensor, r_cut: float):
    """Atoms of a padded batch and the directed edges between atoms of one molecule within r_cut.

    Returns ``node`` (N,) flat padded indices of the real atoms, ``src``/``dst`` (E,) indices into
    them, and the edge vectors ``pos[src] - pos[dst]`` (E, 3).
    """
    b, n = mask.shape
    node = mask.reshape(-1).nonzero().squeeze(1)
    index = torch.full((b * n,), -1, dtype=torch.long, device=pos.device)
    index[node] = torch.arange(node.numel(), device=pos.device)
    vec = pos[:, None, :, :] - pos[:, :, None, :]  # vec[b, i, j] = pos_j - pos_i
    eye = torch.eye(n, dtype=torch.bool, device=pos.device)
    near = (vec.detach().square().sum(-1) < r_cut**2) & ~eye
    ok = mask[:, :, None] & mask[:, None, :] & near
    bb, ii, jj = ok.nonzero(as_tuple=True)
    return node, index[bb * n + jj], index[bb * n + ii], vec[bb, ii, jj]


def cosine_cutoff(dist: torch.Tensor, r_cut: float) -> torch.Tensor:
    """0.5·(cos(π d / r_cut) + 1) inside the cut-off, 0 outside: smooth to first order."""
    return 0.5 * (torch.cos(math.pi * dist / r_cut) + 1.0) * (dist < r_cut)


class EdgeProduct(nn.Module):
    """Channel-wise (uvu) tensor products ``x_src ⊗ Y(edge)`` weighted per edge and channel,
    summed over each atom's edges.

    For an input block of ``u`` copies of irrep ``ir1`` every kept path ``ir1 ⊗ Y_l2 → ir3``
    (e3nn's Clebsch–Gordan ``wigner_3j``, scaled by √(2·l3+1)) is one column group of
    ``T[e] = Σ_j Y[e, j] C[i, j, :]``, made once per forward pass and shared by the layers, so a
    block costs one batched product ``x[e] @ T[e]``. Output: the aggregated messages per atom in
    e3nn's layout of ``irreps_out`` (one block per path), the same map as e3nn's
    ``TensorProduct(..., "uvu")`` followed by a scatter-sum, up to normalisation.
    """

    def __init__(self, irreps_in: o3.Irreps, lmax: int, wanted: set) -> None:
        super().__init__()
        self.blocks, mid = [], []
        for (mul, ir), sl in zip(irreps_in, irreps_in.slices(), strict=True):
            paths = edge_paths(ir, lmax, wanted)
            self.blocks.append((sl.start, mul, ir.l, ir.p, [p[1].l for p in paths]))
            mid += [(mul, ir_out) for _, ir_out in paths]
        self.irreps_out = o3.Irreps(mid)
        self.weight_numel = sum(b[1] * len(b[4]) for b in self.blocks)

    def forward(self, x, coupling: dict, weight, src, dst, n_nodes: int) -> torch.Tensor:
        out, w0, xs = [], 0, x[src]
        for start, mul, l1, p1, l3s in self.blocks:
            xb = xs[:, start : start + mul * (2 * l1 + 1)].reshape(-1, mul, 2 * l1 + 1)
            t = coupling[(l1, p1)]
            y = xb * t if l1 == 0 else torch.bmm(xb, t)  # (E, mul, K)
            widths = torch.tensor([2 * l3 + 1 for l3 in l3s], device=x.device)
            w = weight[:, w0 : w0 + mul * len(l3s)].reshape(-1, mul, len(l3s))
            y = y * w.repeat_interleave(widths, dim=2)
            agg = torch.zeros(n_nodes, y.shape[1] * y.shape[2], dtype=y.dtype, device=y.device)
            agg = agg.index_add(0, dst, y.reshape(y.shape[0], -1)).reshape(n_nodes, mul, -1)
            out += [part.reshape(n_nodes, -1) for part in agg.split(widths.tolist(), dim=2)]
            w0 += mul * len(l3s)
        return torch.cat(out, dim=1)


def edge_paths(ir_in: o3.Irrep, lmax: int, wanted: set) -> list[tuple[o3.Irrep, o3.Irrep]]:
    """The (edge irrep, output irrep) pairs of ``ir_in ⊗ Y_l`` (l ≤ lmax) kept in ``wanted``."""
    sh = o3.Irreps.spherical_harmonics(lmax)
    return [(ir2, ir3) for _, ir2 in sh for ir3 in ir_in * ir2 if ir3 in wanted]


def couplings(sh: torch.Tensor, lmax: int, inputs: set, wanted: set) -> dict:
    """``T[(l1, p1)]`` (E, 2l1+1, K): every kept path's Σ_j Y_l2[e, j] C[i, j, k] √(2 l3 + 1)."""
    out = {}
    for l1, p1 in sorted(inputs):
        cols = []
        for ir2, ir3 in edge_paths(o3.Irrep(l1, p1), lmax, wanted):
            c = o3.wigner_3j(l1, ir2.l, ir3.l, dtype=sh.dtype, device=sh.device)
            y = sh[:, ir2.l**2 : (ir2.l + 1) ** 2]
            cols.append(torch.einsum("ej,ijk->eik", y, c * math.sqrt(2 * ir3.l + 1)))
        out[(l1, p1)] = torch.cat(cols, dim=2)
    return out


class Interaction(nn.Module):
    """One equivariant message-passing layer: tensor-product messages, linear mix, gate."""

    def __init__(self, irreps_in, irreps_out, cfg: dict) -> None:
        super().__init__()
        irreps_in, irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        irreps_edge = _narrow_scalars(irreps_in, cfg["edge_scalars"])
        self.lin_in = o3.Linear(irreps_in, irreps_edge)
        self.tp = EdgeProduct(irreps_edge, cfg["lmax"], {ir for _, ir in irreps_out})
        self.radial = FullyConnectedNet(
            [cfg["n_basis"], cfg["radial_hidden"], self.tp.weight_numel], F.silu
        )
        self.gate = _gate(irreps_out)
        self.lin_out = o3.Linear(self.tp.irreps_out, self.gate.irreps_in)
        n_species = len(cfg["species"])
        self.self_conn = o3.FullyConnectedTensorProduct(
            irreps_in, f"{n_species}x0e", self.gate.irreps_in
        )
        self.residual = irreps_in == irreps_out
        self.norm = 1.0 / math.sqrt(cfg["avg_neighbors"])

    def forward(self, h, onehot, coupling, radial, src, dst):
        x = self.lin_in(h)
        agg = self.tp(x, coupling, self.radial(radial), src, dst, h.shape[0]) * self.norm
        out = self.gate(self.lin_out(agg) + self.self_conn(h, onehot))
        return h + out if self.residual else out


def gate_layout(irreps: o3.Irreps) -> o3.Irreps:
    """``irreps`` in the order a gate emits them (even scalars, odd scalars, then the rest as
    written): every layer's output and the latents, whatever order ``--irreps`` was given in."""
    rank = {o3.Irrep("0e"): 0, o3.Irrep("0o"): 1}
    return o3.Irreps(sorted(irreps, key=lambda mul_ir: rank.get(mul_ir.ir, 2))).simplify()


def _narrow_scalars(irreps: o3.Irreps, most: int) -> o3.Irreps:
    """``irreps`` with at most ``most`` scalar copies: what a layer sends along its edges."""
    return o3.Irreps([(min(m, most) if ir.l == 0 else m, ir) for m, ir in irreps])


def _gate(irreps_out: o3.Irreps) -> Gate:
    """SiLU on the scalars, sigmoid gates (extra scalars) on every higher irrep."""
    scalars = o3.Irreps([(m, ir) for m, ir in irreps_out if ir.l == 0])
    gated = o3.Irreps([(m, ir) for m, ir in irreps_out if ir.l > 0])
    gates = o3.Irreps(f"{gated.num_irreps}x0e") if gated.num_irreps else o3.Irreps("")
    acts = [F.silu if ir.p == 1 else torch.tanh for _, ir in scalars]
    return Gate(scalars, acts, gates, [torch.sigmoid] * len(gates), gated)


class Mol3dNet(nn.Module):
    """The equivariant network: species embedding, ``layers`` interactions, per-atom readout."""

    def __init__(self, cfg: dict) -> None:
        super().__init__()
        self.cfg = cfg
        irreps = gate_layout(o3.Irreps(cfg["irreps"]))
        self.irreps = irreps
        self.n_scalars = sum(m for m, ir in irreps if ir == o3.Irrep("0e"))
        self.register_buffer("species_table", species_table(cfg["species"]), persistent=False)
        self.embed = nn.Linear(len(cfg["species"]), cfg["embed"], bias=False)
        dims = [o3.Irreps(f"{cfg['embed']}x0e")] + [irreps] * cfg["layers"]
        self.layers = nn.ModuleList(
            Interaction(a, b, cfg) for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        self.sh = o3.Irreps.spherical_harmonics(cfg["lmax"])
        self.readout = FullyConnectedNet(
            [self.n_scalars, cfg["readout_hidden"], len(cfg["targets"])], F.silu
        )
        self.register_buffer(
            "intensive", torch.tensor([bool(v) for v in cfg["intensive"]]), persistent=False
        )

    def features(self, pos, species, mask):
        """Per-atom features (N, D) of the real atoms, their flat padded positions (N,)."""
        node, src, dst, vec = edges(pos, mask, self.cfg["r_cut"])
        onehot = F.one_hot(self.species_table[species.reshape(-1)[node]], len(self.cfg["species"]))
        onehot = onehot.to(pos.dtype)
        dist = vec.norm(dim=1)
        sh = o3.spherical_harmonics(self.sh, vec, normalize=True, normalization="component")
        radial = (
            soft_one_hot_linspace(
                dist, 0.0, self.cfg["r_cut"], self.cfg["n_basis"], basis="bessel", cutoff=True
            )
            * (math.sqrt(self.cfg["n_basis"]) * cosine_cutoff(dist, self.cfg["r_cut"]))[:, None]
        )
        inputs = {(b[2], b[3]) for layer in self.layers for b in layer.tp.blocks}
        coupling = couplings(sh, self.cfg["lmax"], inputs, {ir for _, ir in self.irreps})
        h = self.embed(onehot)
        for layer in self.layers:
            h = layer(h, onehot, coupling, radial, src, dst)
        return h, node

    def forward(self, pos, species, mask) -> dict[str, torch.Tensor]:
        """Latents ``nodes`` (B, n, D), ``graph`` (B, D), ``invariant`` (B, S) and ``pred``."""
        h, node = self.features(pos, species, mask)
        return pool(self, h, node, mask)

    def layer_action(self, layer: str) -> str:
        """The group action on latent ``layer`` (canonical invlatent string)."""
        irreps = str(self.irreps.simplify())
        return {"nodes": f"sn*o3:{irreps}", "graph": f"o3:{irreps}", "invariant": "trivial"}[layer]


def pool(net, h, node, mask) -> dict[str, torch.Tensor]:
    """Padded per-atom latents, their sum, its scalar part, and the readout's predictions."""
    b, n = mask.shape
    nodes = torch.zeros(b * n, h.shape[1], dtype=h.dtype, device=h.device)
    nodes = nodes.index_copy(0, node, h).reshape(b, n, -1)
    graph = nodes.sum(1)
    per_atom = net.readout(h[:, : net.n_scalars])
    total = torch.zeros(b * n, per_atom.shape[1], dtype=h.dtype, device=h.device)
    total = total.index_copy(0, node, per_atom).reshape(b, n, -1).sum(1)
    count = mask.sum(1, keepdim=True).clamp(min=1).to(h.dtype)
    pred = torch.where(net.intensive, total / count, total)
    return {"nodes": nodes, "graph": graph, "invariant": graph[:, : net.n_scalars], "pred": pred}


def species_table(species: list[int]) -> torch.Tensor:
    """Atomic number → species index (unknown numbers map to 0; callers check them first)."""
    table = torch.zeros(max(species) + 1, dtype=torch.long)
    table[torch.tensor(species)] = torch.arange(len(species))
    return table
