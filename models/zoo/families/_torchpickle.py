"""Reads PyTorch checkpoints with numpy only (no torch): the legacy stream format written by
torch.save before 1.6 (a magic number, three small pickles, the object pickle, the storage keys,
then every storage's bytes) and the zip format of later versions (data.pkl + data/<key>).

Only what state dicts hold is rebuilt: tensors (as numpy arrays, C-contiguous), parameters,
OrderedDicts and plain containers. Any other global named by the pickle is refused, so a
checkpoint cannot run code while it is read.

    from _torchpickle import load_state_dict
    sd = load_state_dict("flownet.pkl")      # {"module.block0.conv0.0.0.weight": ndarray, ...}
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

# torch storage class name -> numpy element type.
STORAGE_TYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16,  # raw bits, left as they are
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}

# torch dtype name (zip format's TypedStorage / UntypedStorage) -> numpy element type.
DTYPES = {"float32": np.float32, "float": np.float32, "float64": np.float64, "double": np.float64,
          "float16": np.float16, "half": np.float16, "bfloat16": np.uint16, "int64": np.int64,
          "long": np.int64, "int32": np.int32, "int": np.int32, "int16": np.int16, "int8": np.int8,
          "uint8": np.uint8, "bool": np.bool_}


class _StorageType:
    """Stands for torch.FloatStorage etc. inside the pickle."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)


class _DType:
    """Stands for a torch.dtype (torch.float32 ...) inside the pickle."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)


class _TensorRef:
    """A tensor as the pickle describes it, resolved once the storages' bytes are known."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


class _StorageRef:
    def __init__(self, key, dtype, view=None):
        self.key, self.dtype, self.view = str(key), np.dtype(dtype), view


def _rebuild_tensor(storage, storage_offset, size, stride, *_rest, **_kw):
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_rest, **_kw):
    return data


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch._utils" and name in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
            return _rebuild_parameter
        if module == "torch" and name in STORAGE_TYPES:
            return _StorageType(STORAGE_TYPES[name])
        if module == "torch" and name == "UntypedStorage":
            return _StorageType(np.uint8)
        if module == "torch" and name in DTYPES:
            return _DType(DTYPES[name])
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a checkpoint")

    def persistent_load(self, pid):
        # ("storage", storage type, key, location, numel[, view metadata])
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        kind = pid[1]
        dtype = kind.dtype if isinstance(kind, (_StorageType, _DType)) else np.float32
        view = pid[5] if len(pid) > 5 else None
        return _StorageRef(pid[2], dtype, view)


def _refs(obj, out):
    if isinstance(obj, _TensorRef):
        out.append(obj.storage)
    elif isinstance(obj, dict):
        for v in obj.values():
            _refs(v, out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _refs(v, out)
    return out


def _resolve(obj, blobs: dict[str, bytes]):
    if isinstance(obj, _TensorRef):
        st = obj.storage
        flat = np.frombuffer(blobs[st.key], dtype=st.dtype)
        if st.view is not None:  # (view key, offset, size): a storage that is a slice of another
            _, voff, vsize = st.view
            flat = flat[voff:voff + vsize]
        n = int(np.prod(obj.size)) if obj.size else 1
        if n == 0:
            arr = np.zeros(obj.size, st.dtype)
        else:
            item = flat.itemsize
            arr = np.lib.stride_tricks.as_strided(
                flat[obj.offset:], shape=obj.size, strides=[s * item for s in obj.stride])
        return np.array(arr, copy=True, order="C")
    if isinstance(obj, dict):
        return type(obj)((k, _resolve(v, blobs)) for k, v in obj.items())
    if isinstance(obj, list):
        return [_resolve(v, blobs) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_resolve(v, blobs) for v in obj)
    return obj


def _load_legacy(f) -> object:
    if pickle.load(f) != LEGACY_MAGIC:
        raise ValueError("not a torch checkpoint (bad magic number)")
    pickle.load(f)  # protocol version
    pickle.load(f)  # system info (endianness, type sizes)
    obj = _Unpickler(f).load()
    keys = [str(k) for k in pickle.load(f)]
    dtypes = {r.key: r.dtype for r in _refs(obj, [])}
    blobs = {}
    for key in keys:
        numel = int.from_bytes(f.read(8), "little", signed=True)
        itemsize = dtypes.get(key, np.dtype(np.float32)).itemsize
        data = f.read(numel * itemsize)
        if len(data) != numel * itemsize:
            raise ValueError(f"checkpoint truncated in storage {key}")
        blobs[key] = data
    return _resolve(obj, blobs)


def _load_zip(path: Path) -> object:
    with zipfile.ZipFile(path) as z:
        pkl = next(n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
        prefix = pkl[: -len("data.pkl")]
        obj = _Unpickler(io.BytesIO(z.read(pkl))).load()
        blobs = {r.key: z.read(f"{prefix}data/{r.key}") for r in _refs(obj, [])}
    return _resolve(obj, blobs)


def load(path) -> object:
    """The object a torch checkpoint holds, tensors as numpy arrays."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with open(path, "rb") as f:
        return _load_legacy(f)


def load_state_dict(path, strip_prefix: str = "module.") -> dict[str, np.ndarray]:
    """A checkpoint's state dict (its "state_dict" entry if it is nested), with `strip_prefix`
    (DataParallel's "module.") removed from the names."""
    obj = load(path)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: not a state dict ({type(obj).__name__})")
    out = {}
    for k, v in obj.items():
        if isinstance(v, np.ndarray):
            out[k[len(strip_prefix):] if strip_prefix and k.startswith(strip_prefix) else k] = v
    return out
