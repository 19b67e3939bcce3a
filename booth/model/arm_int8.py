"""The INT8 graph for ARM CPUs: signed, zero-centred int8 on both sides of each convolution.

OpenVINO's ARM CPU plugin runs a quantized convolution in int8 through the Arm Compute
Library only when it reads and writes the same 8-bit type with no zero point on its
input: Convolution → bias Add → FakeQuantize, with the input and output FakeQuantize
both u8 or both i8 (``FallbackUnsupportedLPConvToFP16`` and ``ConvMulAddFQBlock`` in
src/plugins/intel_cpu/src/transformations/cpu_opset/arm/pass/ of openvinotoolkit/openvino
send every other quantized convolution back to f16/f32). NNCF's MIXED preset gives
every activation an asymmetric range: after a PRelu or a residual Add the convolution
input is u8 with a zero point, and the layer-norm input after it is u8 with another one.

This rewrite makes both signed and symmetric without changing what the network computes:

* output side (:func:`booth.model.quantize.symmetric_norm_inputs`): a layer norm ignores a
  constant added to its input, so the convolution's bias absorbs the range's midpoint;
* input side (:func:`centre_convolution_inputs`): the convolution input ``x`` is
  quantized as ``x - c`` on a range centred on zero, the same grid shifted by ``c``,
  and the convolution's bias gains ``c·ΣW`` per output channel, so
  ``conv(x - c) + bias + c·ΣW = conv(x) + bias``. Reflect padding and transposes between
  the quantizer and the convolution commute with the shift (zero padding, in a Pad or
  in the convolution itself, would not: such inputs are left as they are); a consumer
  that is not a convolution (a residual Add) gets ``+c`` back.

The 3×3 stride-1 convolutions, which the plugin would run as float Winograd, get a
zero fourth kernel column (:func:`widen_3x3_kernels`). Depthwise (group) convolutions
stay in float: the plugin's low-precision pass for them is disabled on ARM. The final
32→3 convolution stays in float by the recipe's choice.
"""

from __future__ import annotations

import numpy as np
import openvino as ov
from openvino import opset13 as ops

_PASS_THROUGH = ("Pad", "Transpose")


def _constant(value) -> ov.Output:
    return ops.constant(np.asarray(value, dtype=np.float32)).output(0)


def _value(output: ov.Output) -> np.ndarray:
    """The value of a constant subgraph (weights with their int8 decompression)."""
    node = output.get_node()
    kind = node.get_type_name()
    if kind == "Constant":
        return node.get_data().astype(np.float32)
    args = [_value(node.input_value(i)) for i in range(node.get_input_size())]
    if kind == "Convert":
        return args[0]
    if kind == "Subtract":
        return args[0] - args[1]
    if kind == "Multiply":
        return args[0] * args[1]
    if kind == "Reshape":
        return args[0].reshape(node.get_output_shape(0))
    raise ValueError(f"cannot fold {kind} {node.get_friendly_name()}")


def _commutes_with_shift(node: ov.Node) -> bool:
    """Whether ``node`` gives ``f(x - c) = f(x) - c``: a transpose does, and so does a pad
    that copies values from inside (reflect, symmetric, edge); a zero pad does not."""
    if node.get_type_name() == "Pad":
        return node.get_attributes()["pad_mode"] in ("reflect", "symmetric", "edge")
    return node.get_type_name() in _PASS_THROUGH


def _pads_nothing(conv: ov.Node) -> bool:
    """A convolution with no zero padding of its own (it would read the shifted zeros)."""
    attributes = conv.get_attributes()
    if attributes["auto_pad"] in ("same_upper", "same_lower"):
        return False
    return attributes["auto_pad"] == "valid" or not any(attributes["pads_begin"] + attributes["pads_end"])


def _reaches_convolution(target: ov.Input) -> ov.Node | None:
    """The Convolution this consumer feeds as data through ops that commute with a shift
    (pads that copy values, transposes), or None."""
    node = target.get_node()
    while _commutes_with_shift(node) and target.get_index() == 0:
        targets = list(node.output(0).get_target_inputs())
        if len(targets) != 1:
            return None
        target = targets[0]
        node = target.get_node()
    if node.get_type_name() != "Convolution" or target.get_index() != 0 or not _pads_nothing(node):
        return None
    return node


def _bias_add(conv: ov.Node) -> tuple[ov.Node, int] | None:
    targets = list(conv.output(0).get_target_inputs())
    if len(targets) != 1 or targets[0].get_node().get_type_name() != "Add":
        return None
    add = targets[0].get_node()
    index = next((i for i in range(2) if add.input_value(i).get_node().get_type_name() == "Constant"), None)
    return (add, index) if index is not None else None


def centre_convolution_inputs(model: ov.Model) -> ov.Model:
    """Quantize each convolution's input on a zero-centred signed range (see module
    docstring). Run it after :func:`booth.model.quantize.symmetric_norm_inputs`."""
    for fq in model.get_ordered_ops():
        if fq.get_type_name() != "FakeQuantize" or fq.get_attributes()["levels"] != 256:
            continue
        low_node, high_node = fq.input_value(1).get_node(), fq.input_value(2).get_node()
        if low_node.get_data().size != 1 or high_node.get_data().size != 1:
            continue  # per-channel input ranges: not ours to move
        targets = list(fq.output(0).get_target_inputs())
        convs = [c for c in (_reaches_convolution(t) for t in targets) if c is not None]
        if not convs or any(_bias_add(c) is None for c in convs):
            continue
        if any(t.get_node().get_type_name() in ("GroupConvolution",) for t in targets):
            continue
        low, high = float(low_node.get_data().item()), float(high_node.get_data().item())
        if low >= 0:
            continue  # already u8 from zero; nothing to centre
        reach = (high - low) / (1 + 127 / 128)
        shift = low + reach
        if abs(shift) < 1e-3 * reach:
            continue  # already centred
        others = [t for t in targets if _reaches_convolution(t) is None]
        source = fq.input_value(0)
        fq.input(0).replace_source_output(ops.subtract(source, _constant(shift)).output(0))
        for index, value in ((1, -reach), (2, reach * 127 / 128), (3, -reach), (4, reach * 127 / 128)):
            fq.input(index).replace_source_output(_constant(value))
        for target in others:  # e.g. the residual Add: give it x back
            target.replace_source_output(ops.add(fq.output(0), _constant(shift)).output(0))
        for conv in convs:
            found = _bias_add(conv)
            assert found is not None  # every one of convs has its bias Add (checked above)
            add, index = found
            weights = _value(conv.input_value(1))
            per_channel = weights.reshape(weights.shape[0], -1).sum(axis=1)
            bias = add.input_value(index).get_node().get_data().astype(np.float32)
            add.input(index).replace_source_output(
                _constant(bias + shift * per_channel.reshape(bias.shape)))
    model.validate_nodes_and_infer_types()
    return model


def _signed(fq: ov.Node) -> bool:
    """A per-tensor 256-level quantizer on a zero-centred range (i8, no zero point)."""
    low, high = fq.input_value(1).get_node().get_data(), fq.input_value(2).get_node().get_data()
    return (fq.get_attributes()["levels"] == 256 and low.size == 1 and high.size == 1
            and abs(float(low.item()) + float(high.item()) * 128 / 127) <= 1e-4 * float(high.item()))


def _int8_pattern(conv: ov.Node) -> bool:
    """Whether the plugin's int8 path can take ``conv``: a signed quantizer in front
    (through pads and transposes) and bias Add → signed quantizer behind."""
    node = conv.input_value(0).get_node()
    while node.get_type_name() in _PASS_THROUGH:
        node = node.input_value(0).get_node()
    bias = _bias_add(conv)
    if node.get_type_name() != "FakeQuantize" or not _signed(node) or bias is None:
        return False
    after = [t.get_node() for t in bias[0].output(0).get_target_inputs()]
    return len(after) == 1 and after[0].get_type_name() == "FakeQuantize" and _signed(after[0])


def widen_3x3_kernels(model: ov.Model) -> ov.Model:
    """Give each 3×3 stride-1 convolution a fourth, all-zero kernel column (and one more
    column of reflect padding), so the ARM plugin runs it in int8 too.

    The plugin keeps 3×3 stride-1 convolutions of few channels out of int8 by their
    kernel shape and runs them as Winograd in f16/f32 instead (fewer multiplications);
    a 3×4 kernel is not that shape. Only convolutions the int8 path can then take are
    widened (signed quantizers in and out: run after :func:`centre_convolution_inputs`);
    the others would just lose Winograd. The result is exact, and those convolutions do 4/3
    of the multiply-accumulates (the generator: +19% in all). The arm64 build uses it
    because it takes the int8 share to its reachable maximum at the same fidelity
    (emulated A72/A76, 4 held-out photos at 128×104: 12 → 20 of 25 convolutions and
    42.3% → 99.7% of the MACs in int8, 37.6 dB vs x86-64 f32 with or without it);
    whether int8 3×4 beats f16 Winograd on a board is not measured: the install's
    precision choice (int8 / f16 / f32, timed on the board) is the guard.
    """
    for conv in model.get_ordered_ops():
        if conv.get_type_name() != "Convolution" or conv.get_attributes()["strides"] != [1, 1]:
            continue
        if list(conv.input_value(1).get_partial_shape().to_shape())[2:] != [3, 3]:
            continue
        if not _int8_pattern(conv):
            continue
        pad, scale = conv.input_value(0).get_node(), conv.input_value(1).get_node()
        if pad.get_type_name() != "Pad" or pad.get_attributes()["pad_mode"] != "reflect":
            continue
        if scale.get_type_name() != "Multiply" or scale.input_value(0).get_node().get_type_name() != "Convert":
            continue  # only NNCF's int8 weights: Multiply(Convert(int8 constant), scale)
        codes = scale.input_value(0).get_node().input_value(0).get_node().get_data()
        widened = np.concatenate([codes, np.zeros(codes.shape[:3] + (1,), codes.dtype)], axis=3)
        weights = ops.multiply(ops.convert(ops.constant(widened), "f32"), scale.input_value(1))
        conv.input(1).replace_source_output(weights.output(0))
        ends = pad.input_value(2).get_node().get_data().copy()
        ends[-1] += 1  # the extra column reads one more padded column on the right
        pad.input(2).replace_source_output(ops.constant(ends).output(0))
    model.validate_nodes_and_infer_types()
    return model
