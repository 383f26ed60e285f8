"""Loading encoders invlatent did not train, for every pipeline: TorchScript and ``torch.export``
archives (each pickle in them checked first, :mod:`invlatent.format.model_archive`) and ONNX
sessions, with one-line errors for files that are not such models."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings

from invlatent.errors import InvlatentError
from invlatent.format.model_archive import check_archive


def load_archive(path: str, device):
    """A TorchScript module or a ``torch.export`` archive on ``device`` (a torch device), as a
    callable; its pickles are checked before torch reads them."""
    import torch

    if path.lower().endswith(".onnx"):
        raise InvlatentError(f"{path}: an ONNX file; encode it with --onnx")
    check_archive(path, "neither a TorchScript file nor a torch.export archive")
    try:
        with warnings.catch_warnings():  # torch deprecates jit.load; the user's file is no fault
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(path, map_location=device).eval()
    except FileNotFoundError:
        raise InvlatentError(f"{path}: no such file") from None
    except (RuntimeError, ValueError):
        pass
    try:
        with _quiet("torch.export"):
            return torch.export.load(path).module().to(device)
    except Exception as e:  # torch.export raises many kinds of errors for foreign files
        raise InvlatentError(
            f"{path}: neither a TorchScript file nor a torch.export archive ({type(e).__name__})"
        ) from None


@contextlib.contextmanager
def _quiet(name: str):
    """Silence a library's logger for a while: torch.export logs a traceback on stderr for a
    file it cannot read, before raising; the raised error becomes our one line."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def onnx_session(path: str):
    """An onnxruntime session of ``path`` on the CPU (one line for a file that is no model)."""
    if not os.path.isfile(path):
        raise InvlatentError(f"{path}: no such file")
    try:
        import onnxruntime as ort
    except ImportError:
        raise InvlatentError(
            "ONNX encoders need onnxruntime: pip install 'invlatent[onnx]'"
        ) from None
    ort.set_default_logger_severity(4)  # failures come back as exceptions: one line, not logs
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.intra_op_num_threads = 1 if (os.cpu_count() or 1) <= 2 else 2
    try:
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for bad files
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise InvlatentError(f"{path}: not a usable ONNX model ({first[:200]})") from None
