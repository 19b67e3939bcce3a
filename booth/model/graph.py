"""Rewrites of the published AnimeGANv2 graph into the network the booth runs.

The published generator is a full-integer TFLite file. OpenVINO reads it directly as
a float graph with a FakeQuantize after nearly every tensor, fixed 256×256 upsampling,
and each of its 24 layer norms spelled out as eleven small ops. These functions turn it
into:

* the **float network** (:func:`float_network`): FakeQuantize and no-op Converts
  removed, int8 weights dequantized into f32 constants, every layer norm replaced by
  one ``MVN`` op (+ per-channel scale and shift) that the CPU plugin runs as a single
  fused kernel, upsampling by scale ×2 so any H×W that is a multiple of 8 works;
* the **as-is network** (:func:`asis_network`): the TFLite file's own quantization kept,
  only the upsampling rewritten (the baseline our INT8 build must beat).

Both take NHWC float input in [-1, 1] and give NHWC tanh output, like the original.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
from openvino import opset11, opset13
from openvino.passes import ConstantFolding, Manager

#: Spatial sizes must be multiples of this (three stride-2 stages would need 8; the
#: generator has two, but 8 keeps every intermediate even after reflect padding).
SIZE_MULTIPLE = 8


def _source(node: ov.Node, index: int = 0) -> ov.Node:
    return node.input(index).get_source_output().get_node()


def _const(node: ov.Node) -> np.ndarray | None:
    return node.get_data() if node.get_type_name() == "Constant" else None


def read_source(path: Path) -> ov.Model:
    """Read the published .tflite generator (OpenVINO's TFLite frontend)."""
    return ov.Core().read_model(str(path))


def _bypass(node: ov.Node) -> None:
    """Connect a node's consumers straight to its first input."""
    node.output(0).replace(node.input(0).get_source_output())


def strip_fake_quantize(model: ov.Model) -> int:
    """Remove every FakeQuantize and f32→f32 Convert; returns how many were removed."""
    removed = 0
    for node in model.get_ordered_ops():
        kind = node.get_type_name()
        same_type = (kind == "Convert" and node.input(0).get_element_type()
                     == node.get_output_element_type(0))
        if kind == "FakeQuantize" or same_type:
            _bypass(node)
            removed += 1
    return removed


def dequantize_weights(model: ov.Model) -> int:
    """Fold ``Convert(int8 constant) × scale`` into f32 constants; returns the count."""
    folded = 0
    for node in model.get_ordered_ops():
        if node.get_type_name() != "Multiply":
            continue
        a, b = _source(node, 0), _source(node, 1)
        if a.get_type_name() != "Convert" or _const(b) is None:
            continue
        q = _const(_source(a))
        if q is None:
            continue
        weights = (q.astype(np.float32) * b.get_data().astype(np.float32)).astype(np.float32)
        node.output(0).replace(opset13.constant(weights).output(0))
        folded += 1
    return folded


def fold_constants(model: ov.Model) -> None:
    """Fold constant sub-graphs (dequantized weights, Unsqueezed gammas) into constants."""
    manager = Manager()
    manager.register_pass(ConstantFolding())
    manager.run_passes(model)


def _match_layer_norm(out_add: ov.Node):
    """Match TF's decomposed layer norm ending at ``out_add``; returns its parts or None.

    TF writes ``layer_norm(x)`` as::

        mean  = ReduceMean(x);  var = ReduceMean(SquaredDifference(x, mean))
        scale = Power(var + eps, -0.5) * gamma
        out   = x * scale + (beta - mean * scale)
    """
    try:
        if out_add.get_type_name() != "Add":
            return None
        x_scaled, shift = _source(out_add, 0), _source(out_add, 1)
        if x_scaled.get_type_name() != "Multiply" or shift.get_type_name() != "Subtract":
            return None
        x, scale = _source(x_scaled, 0), _source(x_scaled, 1)
        if scale.get_type_name() != "Multiply":
            return None
        rsqrt, gamma = _source(scale, 0), _source(scale, 1)
        beta, mean_scaled = _source(shift, 0), _source(shift, 1)
        if rsqrt.get_type_name() != "Power" or mean_scaled.get_type_name() != "Multiply":
            return None
        mean = _source(mean_scaled, 0)
        var_eps = _source(rsqrt, 0)
        var = _source(var_eps, 0)
        sq = _source(var, 0)
        if (mean.get_type_name(), var_eps.get_type_name(), var.get_type_name(),
                sq.get_type_name()) != ("ReduceMean", "Add", "ReduceMean", "SquaredDifference"):
            return None
        gamma_v, beta_v = _const(gamma), _const(beta)
        eps = _const(var_eps.input(1).get_source_output().get_node())
        power = _const(_source(rsqrt, 1))
        axes = _const(_source(mean, 1))
        if gamma_v is None or beta_v is None or eps is None or power is None or axes is None:
            return None
        if not np.allclose(power, -0.5):
            return None
        return x, float(np.asarray(eps).ravel()[0]), sorted(int(a) for a in np.ravel(axes)), \
            gamma_v, beta_v
    except (IndexError, RuntimeError):
        return None


def fuse_layer_norms(model: ov.Model) -> int:
    """Replace each decomposed layer norm by ``MVN × gamma + beta``; returns the count."""
    fused = 0
    for node in model.get_ordered_ops():
        parts = _match_layer_norm(node)
        if parts is None:
            continue
        x, eps, axes, gamma, beta = parts
        mvn = opset13.mvn(x.output(0) if isinstance(x, ov.Node) else x,
                          opset13.constant(np.array(axes, dtype=np.int64)),
                          normalize_variance=True, eps=eps, eps_mode="inside_sqrt")
        out = opset13.add(opset13.multiply(mvn, opset13.constant(gamma.astype(np.float32))),
                          opset13.constant(beta.astype(np.float32)))
        node.output(0).replace(out.output(0))
        fused += 1
    return fused


def scale_upsampling(model: ov.Model) -> int:
    """Turn fixed-size Interpolate ops into ×2 scale-based ones; returns the count."""
    rewritten = 0
    for node in model.get_ordered_ops():
        if node.get_type_name() != "Interpolate":
            continue
        attrs = node.get_attributes()
        if attrs["shape_calculation_mode"] != "sizes":
            continue
        data = node.input(0).get_source_output()
        # Keep the op's own axes (the TFLite graph upsamples in NHWC: axes [1, 2]).
        axes_const = _const(_source(node, 2))
        if axes_const is None:
            continue  # axes computed at run time: not the TFLite graph's fixed upsampling
        axes = axes_const.astype(np.int64)
        new = opset11.interpolate(
            data, np.full(len(axes), 2.0, dtype=np.float32), mode=attrs["mode"],
            shape_calculation_mode="scales",
            coordinate_transformation_mode=attrs["coordinate_transformation_mode"],
            nearest_mode=attrs["nearest_mode"], antialias=attrs["antialias"],
            cube_coeff=attrs["cube_coeff"], axes=axes,
            name=node.get_friendly_name())
        node.output(0).replace(new.output(0))
        rewritten += 1
    return rewritten


def make_dynamic(model: ov.Model) -> ov.Model:
    """Let height and width vary: input [1, H, W, 3] NHWC."""
    model.reshape({model.inputs[0].any_name: ov.PartialShape([1, -1, -1, 3])})
    model.validate_nodes_and_infer_types()
    return model


def _finish(model: ov.Model, name: str) -> ov.Model:
    model.validate_nodes_and_infer_types()
    model = ov.Model(model.outputs, model.get_parameters(), name)  # drop dead nodes
    return make_dynamic(model)


def float_network(source: Path) -> tuple[ov.Model, dict[str, int]]:
    """The dequantized float generator with fused norms and any-size upsampling."""
    model = read_source(source)
    counts = {
        "fake_quantize_removed": strip_fake_quantize(model),
        "weights_dequantized": dequantize_weights(model),
    }
    fold_constants(model)
    counts |= {
        "layer_norms_fused": fuse_layer_norms(model),
        "upsampling_rewritten": scale_upsampling(model),
    }
    return _finish(model, "animeganv2_hayao_fp32"), counts


def asis_network(source: Path) -> tuple[ov.Model, dict[str, int]]:
    """The published INT8 graph with only its upsampling made size-independent."""
    model = read_source(source)
    counts = {"upsampling_rewritten": scale_upsampling(model)}
    return _finish(model, "animeganv2_hayao_asis"), counts


def unfused_float_network(source: Path) -> ov.Model:
    """FakeQuantize removed but nothing else changed (fixed 256×256): the reference the
    rewrites are tested against."""
    model = read_source(source)
    strip_fake_quantize(model)
    dequantize_weights(model)
    model.validate_nodes_and_infer_types()
    return ov.Model(model.outputs, model.get_parameters(), "animeganv2_hayao_reference")
