"""Reference runtimes for the generator benchmark: PyTorch, ONNX Runtime and LiteRT.

The booth itself runs only OpenVINO. To show what that choice buys, ``booth bench``
runs the same generator in the runtimes people would otherwise reach for:

* **PyTorch eager** — :func:`torch_generator` rebuilds the network as a
  ``torch.nn.Module`` straight from the float OpenVINO IR (``generator_fp32.xml``), so
  every runtime computes the very same weights;
* **ONNX Runtime** — :func:`export_onnx` exports that module with dynamic H×W and
  :func:`onnxruntime_runner` runs it;
* **LiteRT** (the TFLite runtime, XNNPACK) — :func:`litert_runner` runs the published
  full-integer ``.tflite`` exactly as shipped (256×256 only).

Every runner is a plain function: NHWC float32 ``[1, H, W, 3]`` in [-1, 1] in, NHWC
float32 tanh output out, like the IR (``booth bench`` times them with
:func:`booth.measure.timing.median_ms`).

How the PyTorch module is built: :func:`plan_from_ir` walks the IR's ops in topological
order and writes each one down as a :class:`Step` (an op name, the values it reads and
its attributes) — plain data, no PyTorch needed. The module is a small interpreter
whose ``forward`` evaluates those steps with torch ops. The generator uses only a dozen
op types (convolutions, layer norms as ``MVN``, LeakyReLU as ``PRelu``, reflect
``Pad``, ×2 bilinear ``Interpolate``, ``Tanh``, the NHWC↔NCHW ``Transpose``), and an
op outside that set is refused with its name rather than guessed at.

torch, onnx, onnxruntime and ai-edge-litert are bench-only extras (``./install.sh
--bench``); they are imported inside the functions that need them, never at booth run
time.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import openvino as ov

from booth.errors import UserError

if TYPE_CHECKING:  # for type hints only: the bench extras are never imported at run time
    import torch

#: A runtime under test: NHWC float32 [1, H, W, 3] in [-1, 1] in, NHWC tanh output out.
Runner = Callable[[np.ndarray], np.ndarray]

#: What to install when a bench-only package is missing.
INSTALL_HINT = "install the benchmark extras: ./install.sh --bench"


class BenchExtraMissing(UserError, ImportError):
    """A bench-only package is not installed: one line for the user (a UserError) that
    callers probing for optional runtimes can also catch as an ImportError."""


def require_extra(module: str) -> Any:
    """Import a bench-only package, or say in one line how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BenchExtraMissing(f"{module} is not installed ({exc}): {INSTALL_HINT}") from None


# --- The IR as a plan of steps (OpenVINO only) ----------------------------------------


@dataclass
class Step:
    """One op of the network: ``op`` applied to the values at ``inputs``.

    Values are numbered in the order they are written down: value 0 is the network
    input and step ``i`` produces value ``i + 1``. Constants (``op == "const"``) have
    no inputs and are all available before the first computed step.
    """

    op: str
    inputs: tuple[int, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """The whole network: its steps, the constant tensors they read, the output value."""

    steps: list[Step]
    constants: list[np.ndarray]
    output: int

    def count(self, op: str) -> int:
        return sum(step.op == op for step in self.steps)


class UnsupportedOp(ValueError):
    """The IR holds an op (or an attribute) the interpreter does not implement."""


def _const_of(output: ov.Output) -> np.ndarray | None:
    node = output.get_node()
    return node.get_data() if node.get_type_name() == "Constant" else None


def _static(node: ov.Node, port: int, what: str) -> np.ndarray:
    """An input that must be a constant (pads, axes, scales, a permutation)."""
    value = _const_of(node.input(port).get_source_output())
    if value is None:
        raise UnsupportedOp(f"{node.get_type_name()} {node.get_friendly_name()}: "
                            f"{what} must be a constant")
    return value


def _conv_pads(node: ov.Node) -> tuple[list[int], list[int]]:
    attrs = node.get_attributes()
    auto_pad = str(attrs.get("auto_pad", "explicit")).lower()
    if auto_pad == "valid":
        return [0, 0], [0, 0]
    if auto_pad in ("explicit", "notset"):
        return list(attrs["pads_begin"]), list(attrs["pads_end"])
    raise UnsupportedOp(f"{node.get_type_name()} {node.get_friendly_name()}: "
                        f"auto_pad={auto_pad} is not supported")


def plan_from_ir(model: ov.Model) -> Plan:
    """Write the IR's ops down, in topological order, as interpreter steps.

    A few peepholes make the result what a hand-written PyTorch generator would be, so
    the eager timing is fair: a bias ``Add`` after a convolution becomes its bias;
    ``MVN × gamma + beta`` becomes one layer-norm step with its affine (PyTorch's
    ``group_norm`` with one group, a fused kernel); a one-value ``PRelu`` is a
    LeakyReLU; a depthwise ``GroupConvolution``'s weights take PyTorch's grouped layout.
    """
    steps: list[Step] = []
    constants: list[np.ndarray] = []
    value_of: dict[tuple[str, int], int] = {}  # (node name, output port) -> value number
    output = None

    def emit(step: Step, out: ov.Output | None = None) -> int:
        steps.append(step)
        if out is not None:
            value_of[_key(out)] = len(steps)
        return len(steps)

    def constant(array: np.ndarray, out: ov.Output | None = None) -> int:
        constants.append(np.ascontiguousarray(array, dtype=np.float32))
        return emit(Step("const", (), {"index": len(constants) - 1}), out)

    def source(node: ov.Node, port: int) -> int:
        out = node.input(port).get_source_output()
        if _key(out) not in value_of:  # a constant used as a tensor: made a value on first use
            data = _const_of(out)
            if data is None:
                raise UnsupportedOp(f"{node.get_friendly_name()}: input {port} is not computed")
            constant(data, out)
        return value_of[_key(out)]

    for node in model.get_ordered_ops():
        kind = node.get_type_name()
        attrs = node.get_attributes()
        out = node.output(0) if node.get_output_size() else None
        if kind == "Constant":
            continue  # materialised where used (see source())
        if kind == "Parameter":
            value_of[_key(out)] = 0
        elif kind == "Result":
            output = source(node, 0)
        elif kind in ("Convolution", "GroupConvolution"):
            if list(attrs["dilations"]) != [1, 1]:
                raise UnsupportedOp(f"{kind} {node.get_friendly_name()}: dilation")
            weight = _static(node, 1, "the weight").astype(np.float32)
            groups = 1
            if kind == "GroupConvolution":  # [G, O/G, I/G, kh, kw] -> [O, I/G, kh, kw]
                groups = weight.shape[0]
                weight = weight.reshape(-1, *weight.shape[2:])
            weight_value = constant(weight)
            pads_begin, pads_end = _conv_pads(node)
            emit(Step("conv", (source(node, 0), weight_value),
                      {"stride": list(attrs["strides"]), "pads_begin": pads_begin,
                       "pads_end": pads_end, "groups": groups}), out)
        elif kind in ("Add", "Multiply") and _absorbable(node, steps, value_of):
            # conv + bias, or MVN × gamma (+ beta): the constant joins the step before.
            producer = value_of[_key(node.input(0).get_source_output())]
            constant_value = _const_of(node.input(1).get_source_output())
            assert constant_value is not None  # _absorbable: its second input is a constant
            per_channel = constant_value.reshape(-1)
            steps[producer - 1].inputs += (constant(per_channel),)
            value_of[_key(out)] = producer
        elif kind in ("Add", "Multiply"):
            _check_numpy_broadcast(node)
            emit(Step(kind.lower(), (source(node, 0), source(node, 1))), out)
        elif kind == "MVN":
            if not attrs["normalize_variance"]:
                raise UnsupportedOp(f"MVN {node.get_friendly_name()}: normalize_variance=false")
            axes = sorted(int(a) for a in _static(node, 1, "the axes").ravel())
            emit(Step("mvn", (source(node, 0),),
                      {"axes": axes, "eps": float(attrs["eps"]),
                       "inside_sqrt": str(attrs["eps_mode"]).lower() == "inside_sqrt"}), out)
        elif kind == "PRelu":
            slope = _const_of(node.input(1).get_source_output())
            if slope is not None and slope.size == 1:  # one slope: a plain LeakyReLU
                emit(Step("leaky_relu", (source(node, 0),), {"slope": float(slope.ravel()[0])}),
                     out)
            else:
                emit(Step("prelu", (source(node, 0), source(node, 1))), out)
        elif kind == "Pad":
            mode = str(attrs["pad_mode"]).lower()
            if mode not in ("constant", "reflect"):
                raise UnsupportedOp(f"Pad {node.get_friendly_name()}: pad_mode={mode}")
            begin = [int(p) for p in _static(node, 1, "pads_begin")]
            end = [int(p) for p in _static(node, 2, "pads_end")]
            if len(begin) != 4 or begin[:2] != [0, 0] or end[:2] != [0, 0]:
                raise UnsupportedOp(f"Pad {node.get_friendly_name()}: only the last two axes "
                                    f"of a 4-D tensor may be padded, got {begin} {end}")
            value = float(_static(node, 3, "the pad value")) if node.get_input_size() > 3 else 0.0
            emit(Step("pad", (source(node, 0),),
                      {"begin": begin, "end": end, "mode": mode, "value": value}), out)
        elif kind == "Interpolate":
            emit(Step("upsample2x", (source(node, 0),), _upsample_attrs(node)), out)
        elif kind == "Transpose":
            order = [int(a) for a in _static(node, 1, "the permutation")]
            emit(Step("transpose", (source(node, 0),), {"order": order}), out)
        elif kind == "Tanh":
            emit(Step("tanh", (source(node, 0),)), out)
        else:
            raise UnsupportedOp(f"op {kind} ({node.get_friendly_name()}) is not supported "
                                f"by the reference interpreter")
    if output is None:
        raise UnsupportedOp("the model has no Result")
    return Plan(steps, constants, output)


def _key(output: ov.Output) -> tuple[str, int]:
    return output.get_node().get_name(), output.get_index()


#: Which per-channel constant each step can take in: (op, inputs so far, binary op).
_ABSORBS = {("conv", 2, "Add"),        # convolution + bias
            ("mvn", 1, "Multiply"),    # layer norm × gamma
            ("mvn", 2, "Add")}         # layer norm × gamma + beta


def _absorbable(node: ov.Node, steps: list[Step], value_of: dict) -> bool:
    """``op(step, constant [1, C, 1, 1])`` where the step can take the constant in and
    nothing else reads the step's output."""
    first = node.input(0).get_source_output()
    per_channel = _const_of(node.input(1).get_source_output())
    producer = value_of.get(_key(first), 0)
    if producer == 0 or per_channel is None:
        return False
    step = steps[producer - 1]
    channels = first.get_partial_shape()[1]
    return ((step.op, len(step.inputs), node.get_type_name()) in _ABSORBS
            and len(first.get_target_inputs()) == 1
            and channels.is_static
            and per_channel.shape == (1, channels.get_length(), 1, 1))


def _check_numpy_broadcast(node: ov.Node) -> None:
    broadcast = node.get_attributes().get("auto_broadcast", "numpy")
    if str(broadcast).lower() != "numpy":
        raise UnsupportedOp(f"{node.get_type_name()} {node.get_friendly_name()}: "
                            f"auto_broadcast={broadcast}")


def _upsample_attrs(node: ov.Node) -> dict[str, Any]:
    """Only what the generator uses: bilinear ×2 by scales, asymmetric coordinates.

    (``asymmetric`` is TF's ``resize_bilinear`` without half-pixel centres: output
    pixel ``2i`` is input pixel ``i`` and ``2i + 1`` is the mean of ``i`` and ``i + 1``,
    the last one repeated at the edge.)
    """
    attrs = node.get_attributes()
    name = node.get_friendly_name()
    wanted = {"mode": "linear_onnx", "shape_calculation_mode": "scales",
              "coordinate_transformation_mode": "asymmetric"}
    for key, value in wanted.items():
        if str(attrs[key]).lower() != value:
            raise UnsupportedOp(f"Interpolate {name}: {key}={attrs[key]} (only {value})")
    if node.get_input_size() < 3:
        raise UnsupportedOp(f"Interpolate {name}: needs explicit axes")
    scales = _static(node, 1, "the scales").ravel()
    if not np.allclose(scales, 2.0):
        raise UnsupportedOp(f"Interpolate {name}: scales {scales.tolist()} (only ×2)")
    return {"axes": [int(a) for a in _static(node, 2, "the axes").ravel()]}


def read_plan(fp32_ir: Path) -> Plan:
    """The plan of a float IR file (``weights/generator_fp32.xml``)."""
    return plan_from_ir(ov.Core().read_model(str(fp32_ir)))


# --- The PyTorch interpreter ------------------------------------------------------------


@functools.cache
def _interpreter_class() -> type:
    """The ``nn.Module`` class that evaluates a :class:`Plan` (defined once torch is in)."""
    torch = require_extra("torch")
    F = torch.nn.functional

    def upsample2x(x: Any, axis: int) -> Any:
        # Asymmetric bilinear ×2: even outputs copy the input, odd ones average a pixel
        # and its next neighbour (the edge pixel repeated).
        n = x.shape[axis]
        after = torch.cat([x.narrow(axis, 1, n - 1), x.narrow(axis, n - 1, 1)], dim=axis)
        pairs = torch.stack([x, (x + after) * 0.5], dim=axis + 1)
        return pairs.flatten(axis, axis + 1)

    def conv(x, weight, bias=None, *, stride, pads_begin, pads_end, groups):
        if pads_begin == pads_end:
            padding = pads_begin
        else:  # asymmetric zero padding: pad first, then a VALID convolution
            x = F.pad(x, (pads_begin[1], pads_end[1], pads_begin[0], pads_end[0]))
            padding = [0, 0]
        return F.conv2d(x, weight, bias, stride=stride, padding=padding, groups=groups)

    def pad(x, *, begin, end, mode, value):
        widths = (begin[3], end[3], begin[2], end[2])  # F.pad: last axis first
        if mode == "reflect":
            return F.pad(x, widths, mode="reflect")
        return F.pad(x, widths, mode="constant", value=value)

    def mvn(x, gamma=None, beta=None, *, axes, eps, inside_sqrt):
        if axes == [1, 2, 3] and inside_sqrt and x.dim() == 4:
            # TF's layer_norm over C, H, W with per-channel affine is GroupNorm(1, C).
            return F.group_norm(x, 1, gamma, beta, eps)
        centred = x - x.mean(dim=axes, keepdim=True)
        var = (centred * centred).mean(dim=axes, keepdim=True)
        if inside_sqrt:
            x = centred * torch.rsqrt(var + eps)
        else:
            x = centred / (torch.sqrt(var) + eps)
        if gamma is not None:
            x = x * gamma.reshape(1, -1, 1, 1)
        if beta is not None:
            x = x + beta.reshape(1, -1, 1, 1)
        return x

    ops: dict[str, Callable[..., Any]] = {
        "conv": conv,
        "pad": pad,
        "mvn": mvn,
        "add": torch.add,
        "multiply": torch.mul,
        "leaky_relu": lambda x, *, slope: F.leaky_relu(x, slope),
        "prelu": lambda x, slope: torch.where(x >= 0, x, x * slope),
        "upsample2x": lambda x, *, axes: functools.reduce(upsample2x, axes, x),
        "transpose": lambda x, *, order: x.permute(order),
        "tanh": torch.tanh,
    }

    module_base: Any = torch.nn.Module

    class IRGenerator(module_base):
        """The generator as a PyTorch module: NHWC float [1, H, W, 3] in and out.

        Its weights are buffers (``c0``, ``c1``, …) copied from the IR; ``forward``
        evaluates the plan's steps in order.
        """

        def __init__(self, plan: Plan) -> None:
            super().__init__()
            for index, array in enumerate(plan.constants):
                self.register_buffer(f"c{index}", torch.from_numpy(array.copy()))
            self.steps = plan.steps
            self.output = plan.output

        def forward(self, x: Any) -> Any:
            # Constants first: a folded bias is numbered after the convolution reading it.
            values: list[Any] = [x] + [
                getattr(self, f"c{step.attrs['index']}") if step.op == "const" else None
                for step in self.steps]
            for number, step in enumerate(self.steps, start=1):
                if step.op != "const":
                    args = [values[i] for i in step.inputs]
                    values[number] = ops[step.op](*args, **step.attrs)
            return values[self.output]

    return IRGenerator


def torch_generator(fp32_ir: Path) -> "torch.nn.Module":
    """The generator in PyTorch, weights from the float IR; eval mode, no gradients."""
    module = _interpreter_class()(read_plan(Path(fp32_ir)))
    module.eval()
    module.requires_grad_(False)
    return module


def torch_runner(module: "torch.nn.Module", threads: int) -> Runner:
    """Run a module in PyTorch eager mode on ``threads`` intra-op threads."""
    torch = require_extra("torch")

    def run(x: np.ndarray) -> np.ndarray:
        torch.set_num_threads(threads)  # per call: the process may time other runtimes too
        with torch.inference_mode():
            return module(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()

    return run


# --- ONNX -------------------------------------------------------------------------------


#: The oldest ONNX opset the export can target: torch's exporter writes opset-18 ops
#: (``Pad`` with an ``axes`` input) and ONNX's version converter cannot take ``Pad``
#: down to 17.
MIN_ONNX_OPSET = 18


def export_onnx(fp32_ir: Path, out: Path, opset: int = MIN_ONNX_OPSET) -> Path:
    """Export :func:`torch_generator` to ONNX with dynamic height and width.

    Uses torch's default ``torch.export``-based exporter (it needs onnxscript), input
    ``input`` [1, height, width, 3] and output ``output``, NHWC like the IR, weights
    inside the one file. The file is written under a temporary name, synced and renamed
    into place, so ``out`` is either the whole model or untouched.
    """
    torch = require_extra("torch")
    require_extra("onnxscript")  # the exporter's own dependency: fail with the install hint
    onnx = require_extra("onnx")
    if opset < MIN_ONNX_OPSET:
        raise UserError(f"ONNX opset {opset} is too old for this export: use {MIN_ONNX_OPSET} "
                        f"or newer (torch writes Pad with axes, an opset-18 op)")
    module = torch_generator(fp32_ir)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    height = torch.export.Dim("height", min=16, max=4096)
    width = torch.export.Dim("width", min=16, max=4096)
    example = torch.zeros(1, 256, 256, 3)
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    # The exporter's own chatter (torchvision absent, its internal deprecations) is not
    # the user's business: keep the bench output to our figures.
    exporter_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            program = torch.onnx.export(module, (example,), dynamo=True, opset_version=opset,
                                        input_names=["input"], output_names=["output"],
                                        dynamic_shapes=({1: height, 2: width},), verbose=False)
    finally:
        exporter_log.setLevel(level)
    written = {entry.domain: entry.version for entry in program.model_proto.opset_import}
    if written.get("", opset) != opset:
        raise UserError(f"the ONNX exporter wrote opset {written['']}, not {opset}: "
                        f"pass an opset of {written['']} or newer")
    tmp = out.with_name(f".{out.name}.part")
    try:
        onnx.save_model(program.model_proto, str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def onnxruntime_runner(onnx_path: Path, threads: int) -> Runner:
    """An ONNX Runtime CPU session: ``threads`` intra-op threads, sequential, all
    graph optimisations."""
    ort = require_extra("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return session.run(None, {name: np.ascontiguousarray(x, np.float32)})[0]

    return run


# --- LiteRT -----------------------------------------------------------------------------


def litert_runner(tflite_path: Path, threads: int) -> Runner:
    """The published .tflite as shipped, in LiteRT with XNNPACK (fixed 1×256×256×3).

    Quantized input or output tensors are fed and read through their own scale and
    zero point, so the runner takes and gives float like the others. (The shipped
    generator has float32 input and output with the quantization inside the graph.)
    """
    interpreter_module = require_extra("ai_edge_litert.interpreter")
    interpreter = interpreter_module.Interpreter(model_path=str(tflite_path),
                                                 num_threads=threads)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    target = interpreter.get_output_details()[0]
    shape = tuple(int(d) for d in source["shape"])

    def run(x: np.ndarray) -> np.ndarray:
        if x.shape != shape:
            raise ValueError(f"the .tflite generator takes exactly {shape}, got {x.shape}")
        interpreter.set_tensor(source["index"], quantize(x, source))
        interpreter.invoke()
        return dequantize(interpreter.get_tensor(target["index"]), target)

    return run


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float → a tensor's dtype, through its (scale, zero point) when it is an integer."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return np.ascontiguousarray(x, dtype)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    q = np.round(np.asarray(x, np.float32) / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
    """A tensor's values as float32, through its (scale, zero point) when quantized."""
    if np.dtype(detail["dtype"]).kind == "f":
        return np.asarray(q, np.float32).copy()
    scale, zero_point = detail["quantization"]
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)
