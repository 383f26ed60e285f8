"""ONNX encoders run by onnxruntime on the CPU: a third foreign format beside TorchScript and
``torch.export``, with the same one-line errors for files that are not models and for inputs the
model does not take."""

from __future__ import annotations

import numpy as np
import torch

from invlatent.errors import InvlatentError
from invlatent.pipelines.foreign import onnx_session

_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


class OnnxEncoder:
    """A one-input ONNX model as a callable ``(B, C, H, W)`` tensor → its first output."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.session = onnx_session(path)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise InvlatentError(
                f"{path}: the ONNX model takes {len(inputs)} inputs; an encoder takes one "
                "(images (B, C, H, W))"
            )
        self.input = inputs[0]
        if self.input.type not in _DTYPES:
            raise InvlatentError(
                f"{path}: the ONNX model's input is {self.input.type}; "
                "expected tensor(float) or tensor(double) images"
            )

    def check_input(self, image_shape: tuple[int, ...]) -> None:
        """Refuse images whose (C, H, W) the model's declared input cannot take."""
        declared = list(self.input.shape)
        fixed = [d if isinstance(d, int) else None for d in declared]
        ok = len(fixed) == 4 and all(
            d is None or d == s for d, s in zip(fixed[1:], image_shape, strict=True)
        )
        if not ok:
            raise InvlatentError(
                f"{self.path}: the ONNX model takes input {_shape_text(declared)}, the images are "
                f"(B, {', '.join(map(str, image_shape))})"
            )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        feed = x.detach().cpu().numpy().astype(_DTYPES[self.input.type], copy=False)
        out = self.session.run(None, {self.input.name: feed})[0]
        return torch.from_numpy(np.asarray(out))


def load_onnx(path: str, device: str) -> OnnxEncoder:
    """An ONNX encoder on the CPU (``--device cuda`` is refused: onnxruntime here is CPU-only)."""
    if device != "cpu":
        raise InvlatentError(f"device {device}: ONNX encoders run on cpu (onnxruntime)")
    return OnnxEncoder(path)


def _shape_text(shape: list) -> str:
    """``(B, 1, 28, 28)``: the batch axis as B, other free axes by their name (or ?)."""
    dims = [str(d) if isinstance(d, int) else "B" if i == 0 else str(d or "?")
            for i, d in enumerate(shape)]  # fmt: skip
    return "(" + ", ".join(dims) + ")"
