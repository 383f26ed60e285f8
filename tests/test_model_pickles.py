"""Model files never run pickled code: a payload planted in any pickled member of a TorchScript
archive, a torch.export archive or a torch.save file is refused before torch reads it."""

import io
import json
import pickle
import zipfile

import pytest
import torch
from conftest import assert_one_line_error


class Payload:
    """A pickle that creates ``marker`` when it is unpickled (``io.open(marker, "w")``)."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (io.open, (self.marker, "w"))


class Tiny(torch.nn.Module):
    """A foreign image encoder with a weight and a buffer: (B, 1, H, W) → (B, 2, 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(2))
        self.register_buffer("shift", torch.zeros(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rots = [torch.rot90(x, k, dims=(2, 3)).mean((1, 2, 3)) for k in range(4)]
        pooled = torch.stack(rots, 1)  # (B, 4)
        return pooled[:, None, :] * self.scale[None, :, None] + self.shift[None, :, None]


def rewrite(src, dest, changes: dict) -> None:
    """Copy zip archive ``src`` to ``dest`` with the members named in ``changes`` replaced."""
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dest, "w") as out:
        for info in z.infolist():
            out.writestr(info.filename, changes.get(info.filename, z.read(info)))


def saved_pickle(obj) -> bytes:
    """A torch.save archive whose data.pkl is the plain pickle of ``obj``."""
    buf = io.BytesIO()
    torch.save(torch.ones(1), buf)
    inner = io.BytesIO()
    rewrite(io.BytesIO(buf.getvalue()), inner, {"archive/data.pkl": pickle.dumps(obj)})
    return inner.getvalue()


def pickled_members(path) -> list[str]:
    """Every member of a model archive that torch may unpickle (pickles, nested archives)."""
    with zipfile.ZipFile(path) as z:
        return [n for n in z.namelist() if n.endswith(("pkl", ".pt")) or "/weights/weight_" in n]


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    d = tmp_path_factory.mktemp("archives")
    torch.jit.script(Tiny()).save(str(d / "enc.ts"))
    torch.jit.trace(Tiny(), torch.rand(2, 1, 8, 8)).save(str(d / "traced.ts"))
    batch = {"x": {0: torch.export.Dim("batch")}}
    ep = torch.export.export(Tiny(), (torch.rand(2, 1, 8, 8),), dynamic_shapes=batch)
    torch.export.save(ep, str(d / "enc.pt2"))
    torch.save({"z": torch.rand(6, 2, 4)}, str(d / "z.pt"))
    return d


def planted(archives, tmp_path, name: str):
    """For each pickled member of archive ``name``: a copy with a payload in that member."""
    src = archives / name
    for member in pickled_members(src):
        marker = tmp_path / f"ran-{member.replace('/', '_')}"
        payload = Payload(marker)
        bodies = [pickle.dumps(payload, protocol=p) for p in (0, 2, 4)]
        if member.endswith(".pt"):
            bodies.append(saved_pickle(payload))
        for k, body in enumerate(bodies):
            dest = tmp_path / f"{k}-{member.replace('/', '_')}-{name}"
            changes = {member: body}
            if "/weights/weight_" in member:
                changes.update(_use_pickle(src, member))
            rewrite(src, dest, changes)
            yield dest, marker


def _use_pickle(src, member: str) -> dict:
    """The torch.export weights config changed so that ``member`` is read as a pickle."""
    folder = member.rsplit("/", 1)[0]
    cfg_name = f"{folder}/model_weights_config.json"
    with zipfile.ZipFile(src) as z:
        cfg = json.loads(z.read(cfg_name))
    for entry in cfg["config"].values():
        if entry["path_name"] == member.rsplit("/", 1)[1]:
            entry["use_pickle"] = True
    return {cfg_name: json.dumps(cfg).encode()}


@pytest.mark.parametrize("name", ["enc.ts", "traced.ts", "enc.pt2"])
def test_a_payload_in_any_member_of_a_foreign_encoder_never_runs(cli, archives, tmp_path, name):
    cases = list(planted(archives, tmp_path, name))
    assert len(cases) >= 4
    for model, marker in cases:
        encode = cli("encode", model, "digits", "--torchscript", "--group", "c4", "--limit", "3")
        assert encode.exit_code == 2, (model.name, encode.stderr)
        check = cli("check", model, "digits", "--torchscript", "--lift", "c4", "--samples", "2")
        assert check.exit_code == 2, (model.name, check.stderr)
        assert not marker.exists(), f"{model.name}: the payload ran"


def test_the_payload_names_what_it_would_have_called(cli, archives, tmp_path):
    model = tmp_path / "evil.pt2"
    rewrite(archives / "enc.pt2", model,
            {"enc/data/sample_inputs/model.pt": saved_pickle(Payload(tmp_path / "m"))})  # fmt: skip
    res = cli("encode", model, "digits", "--torchscript", "--group", "c4", "--limit", "3")
    assert_one_line_error(res, "enc/data/sample_inputs/model.pt", "io.open", "could run code")


def test_a_payload_in_a_torch_save_file_never_runs_on_import(cli, archives, tmp_path):
    cases = list(planted(archives, tmp_path, "z.pt"))
    for path, marker in cases:
        res = cli("import", path, "--group", "c4", "-o", tmp_path / "out.st")
        assert_one_line_error(res)
        assert not marker.exists()


def test_clean_archives_still_encode(cli, archives):
    for name in ("enc.ts", "traced.ts", "enc.pt2"):
        res = cli("encode", archives / name, "digits", "--torchscript", "--group", "c4",
                  "--limit", "3")  # fmt: skip
        assert res.exit_code == 0, (name, res.stderr)
