"""Which of the generator's convolutions really run in int8 on a CPU, and why.

For each convolution of an INT8 IR: its kind, what feeds it and what it feeds, the
quantization NNCF gave its input and weights, its multiply-accumulates at a working
size, and, from a compiled model's runtime graph (this CPU, or an emulated Pi core's
dump written by ``scripts/arm64_stylize.py``), the precision the CPU plugin runs it in.

    booth eval arm [--ir weights/generator_int8.xml] [--size 384] [--runtime A72.json ...]

The share of convolutions (and of MACs) in int8 is the figure the ARM recipe moves.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import openvino as ov

from booth.config import defaults
from booth.errors import UserError
from booth.files import write_json
from booth.model.weights import ir_path
from booth.vision.generator import Generator, runtime_layers, working_shape

CONVOLUTIONS = ("Convolution", "GroupConvolution")
INT8_PRECISIONS = ("i8", "u8")
# A float kernel's name: "gemm_acl_f32", "winograd_acl_f16", "brgconv_avx512_1x1_bf16".
_FLOAT_KERNEL = re.compile(r"(^|_)(f32|f16|bf16)($|_)")
# Ops that only move or reshape data between a quantizer and the convolution it feeds.
_PASS_THROUGH = ("Pad", "Transpose", "Reshape", "Convert")


@dataclass
class ActivationQuant:
    """The FakeQuantize in front of a convolution, as the CPU plugin will read it."""
    levels: int
    per_channel: bool
    low: float
    high: float

    @property
    def scheme(self) -> str:
        """"u8" (range from 0), "i8" (centred on zero) or "u8 zp=N" (asymmetric: the
        plugin needs a zero-point subtraction before the convolution)."""
        if self.low >= 0:
            return "u8"
        step = (self.high - self.low) / (self.levels - 1)
        half = self.levels // 2
        # Signed and symmetric: low = -half steps and high = (half - 1) steps (or +half).
        if abs(self.low + half * step) <= 0.02 * step and self.high > 0:
            return "i8"
        return f"u8 zp={int(round(-self.low / step))}"


@dataclass
class ConvFacts:
    name: str
    kind: str             # "3x3", "7x7 s2", "1x1", "depthwise 3x3", ...
    channels: str         # "in->out"
    before: str           # producer chain, nearest first: "Pad<-FQ<-PRelu"
    after: str            # consumer chain: "Add->FQ->MVN"
    activation: str       # the input quantizer's scheme, or "float"
    activation_range: str
    weights: str          # "i8 per-channel", "i8 per-tensor, zero point", "float"
    output: str           # the quantizer after the bias, or "float"
    macs: int


def _fq_facts(fq: ov.Node) -> ActivationQuant:
    low = fq.input_value(1).get_node().get_data()
    high = fq.input_value(2).get_node().get_data()
    return ActivationQuant(levels=int(fq.get_attributes()["levels"]), per_channel=low.size > 1,
                           low=float(np.min(low)), high=float(np.max(high)))


def _input_quantizer(conv: ov.Node) -> tuple[ov.Node | None, list[str]]:
    """The FakeQuantize feeding ``conv`` through data-movement ops, and the chain walked
    back to the first computing op (e.g. ["Pad", "FakeQuantize", "PRelu"])."""
    node, chain, fq = conv.input_value(0).get_node(), [], None
    while True:
        kind = node.get_type_name()
        chain.append(kind)
        if kind == "FakeQuantize" and fq is None:
            fq = node
        elif kind not in _PASS_THROUGH:
            return fq, chain
        if node.get_input_size() == 0:
            return fq, chain
        node = node.input_value(0).get_node()


def _consumers(conv: ov.Node, depth: int = 3) -> tuple[ov.Node | None, list[str]]:
    """The FakeQuantize right after ``conv``'s bias (None if there is none) and the
    first ``depth`` ops it feeds."""
    node, chain, fq = conv, [], None
    for _ in range(depth):
        targets = [t.get_node() for t in node.output(0).get_target_inputs()]
        if not targets:
            break
        chain.append("|".join(t.get_type_name() for t in targets))
        node = targets[0]
        if node.get_type_name() == "FakeQuantize" and fq is None and len(chain) <= 2:
            fq = node
    return fq, chain


def _weight_quant(conv: ov.Node) -> str:
    """How the weights are stored: NNCF writes int8 constants with a per-channel (or
    per-tensor) scale Multiply, and a Subtract when they have a zero point."""
    node = conv.input_value(1).get_node()
    if node.get_type_name() == "Constant":
        return "float"
    if node.get_type_name() == "Reshape":  # group convolutions reshape their weights
        node = node.input_value(0).get_node()
    if node.get_type_name() == "FakeQuantize":
        return f"FakeQuantize levels={node.get_attributes()['levels']}"
    if node.get_type_name() != "Multiply":
        return node.get_type_name()
    scale = next((node.input_value(i).get_node() for i in range(2)
                  if node.input_value(i).get_node().get_type_name() == "Constant"), None)
    data = next(node.input_value(i).get_node() for i in range(2)
                if node.input_value(i).get_node() is not scale)
    zero_point = data.get_type_name() == "Subtract"
    while data.get_input_size() and data.get_type_name() != "Constant":
        data = data.input_value(0).get_node()
    per = "per-channel" if scale is not None and scale.get_data().size > 1 else "per-tensor"
    return f"{data.get_element_type().get_type_name()} {per}" + (", zero point" if zero_point else "")


def _kind(conv: ov.Node) -> tuple[str, str]:
    shape = [int(d) for d in conv.input_value(1).get_partial_shape().to_shape()]
    stride = conv.get_attributes()["strides"]
    if conv.get_type_name() == "GroupConvolution":
        groups, out_per, in_per, kh, kw = shape
        kind = ("depthwise" if out_per == in_per == 1 else f"grouped g={groups}") + f" {kh}x{kw}"
        channels = f"{groups * in_per}->{groups * out_per}"
    else:
        out_c, in_c, kh, kw = shape
        kind, channels = f"{kh}x{kw}", f"{in_c}->{out_c}"
    if max(stride) > 1:
        kind += f" s{max(stride)}"
    return kind, channels


def _macs(conv: ov.Node) -> int:
    """Multiply-accumulates of one run: output elements × (kernel area × input channels
    per group)."""
    out = [int(d) for d in conv.get_output_partial_shape(0).to_shape()]
    weights = [int(d) for d in conv.input_value(1).get_partial_shape().to_shape()]
    per_output = int(np.prod(weights[2:])) if conv.get_type_name() == "GroupConvolution" \
        else int(np.prod(weights[1:]))
    return int(np.prod(out)) * per_output


def convolution_facts(ir: Path, shape: tuple[int, int]) -> list[ConvFacts]:
    """Facts about every convolution of the IR, MACs counted at (height, width)."""
    model = ov.Core().read_model(str(ir))
    model.reshape({model.inputs[0]: [1, shape[0], shape[1], 3]})
    facts = []
    for conv in model.get_ordered_ops():
        if conv.get_type_name() not in CONVOLUTIONS:
            continue
        in_fq, before = _input_quantizer(conv)
        out_fq, after = _consumers(conv)
        kind, channels = _kind(conv)
        act = _fq_facts(in_fq) if in_fq is not None else None
        out = _fq_facts(out_fq) if out_fq is not None else None
        facts.append(ConvFacts(
            name=conv.get_friendly_name(), kind=kind, channels=channels,
            before="<-".join(before), after="->".join(after),
            activation=(act.scheme + (" per-channel" if act.per_channel else "")) if act else "float",
            activation_range=f"[{act.low:.3g}, {act.high:.3g}]" if act else "",
            weights=_weight_quant(conv), output=out.scheme if out else "float",
            macs=_macs(conv)))
    return facts


def precision_by_convolution(layers: list[dict[str, str]], names: list[str]) -> dict[str, str]:
    """The runtime precision (and kernel) of each IR convolution, matched through the
    runtime node that absorbed it (its originalLayersNames)."""
    found = {}
    for layer in layers:
        if layer["layerType"] not in CONVOLUTIONS:
            continue
        originals = set(layer["originalLayersNames"].split(","))
        for name in names:
            if name in originals and name not in found:
                found[name] = f"{layer['runtimePrecision'].lower()} {layer['primitiveType']}".strip()
    return found


def runs_in_int8(precision: str) -> bool:
    """Whether a "precision kernel" entry of :func:`precision_by_convolution` is int8
    arithmetic: an int8 precision, and not a float kernel on int8-labelled data (the ARM
    plugin runs a convolution it could not match to ACL's int8 executor as
    "i8 gemm_acl_f32": dequantized, in f32)."""
    label, _, kernel = precision.partition(" ")
    return label in INT8_PRECISIONS and not _FLOAT_KERNEL.search(kernel.lower())


def int8_share(facts: list[ConvFacts], precisions: dict[str, str]) -> tuple[int, float]:
    """(convolutions in int8, share of all MACs they carry)."""
    int8 = [f for f in facts if runs_in_int8(precisions.get(f.name, ""))]
    total = sum(f.macs for f in facts)
    return len(int8), (sum(f.macs for f in int8) / total if total else 0.0)


@dataclass
class Int8Share:
    """What share of an INT8 graph's convolutions a compiled model runs in int8."""
    int8: int
    convolutions: int
    macs: float  # share of the network's multiply-accumulates in the int8 ones

    def __str__(self) -> str:
        # Rounded down: a float convolution left over never shows as 100%.
        return (f"{self.int8} of {self.convolutions} convolutions in int8 "
                f"({np.floor(1000 * self.macs) / 10:.1f}% of the MACs)")


def compiled_int8_share(ir: Path, runtime_model: ov.Model, shape: tuple[int, int]) -> Int8Share:
    """The int8 share of ``ir``'s convolutions in a compiled model's runtime graph, MACs
    counted at (height, width)."""
    facts = convolution_facts(ir, shape)
    precisions = precision_by_convolution(runtime_layers(runtime_model), [f.name for f in facts])
    count, share = int8_share(facts, precisions)
    return Int8Share(int8=count, convolutions=len(facts), macs=share)


def format_table(facts: list[ConvFacts], runs: dict[str, dict[str, str]]) -> str:
    """The per-convolution table, one precision column per CPU (run)."""
    total = sum(f.macs for f in facts)
    head = ["#", "convolution", "kind", "ch", "before", "after", "input q", "input range",
            "weights", "output q", "MACs %"] + list(runs)
    rows = [head]
    for i, f in enumerate(facts, 1):
        rows.append([str(i), f.name, f.kind, f.channels, f.before, f.after, f.activation,
                     f.activation_range, f.weights, f.output, f"{100 * f.macs / total:.1f}"]
                    + [runs[r].get(f.name, "-") for r in runs])
    widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    for run, precisions in runs.items():
        count, share = int8_share(facts, precisions)
        lines.append(f"{run}: {count} of {len(facts)} convolutions in int8, "
                     f"{np.floor(1000 * share) / 10:.1f}% of {total / 1e9:.2f} GMACs")  # never 100% with one left
    return "\n".join(lines)


# --- the command -----------------------------------------------------------------------

def run(ir: Path | None = None, *, size: int = 384, runtime: Sequence[str] | None = None,
        json_path: Path | None = None) -> int:
    """``booth eval arm`` (:mod:`booth.cli.eval` says what each option does)."""
    ir = ir or ir_path("int8")
    if not Path(ir).is_file():
        raise UserError(f"{ir}: no such IR (run `booth weights build`)")
    shape = working_shape(size, defaults().face.aspect)
    facts = convolution_facts(Path(ir), shape)
    names = [f.name for f in facts]
    runs: dict[str, dict[str, str]] = {}
    if runtime:
        for path in runtime:
            try:
                dump = json.loads(Path(path).read_text())
            except (OSError, ValueError) as exc:
                raise UserError(f"{path}: not a runtime-graph dump ({exc})") from None
            runs[dump.get("cpu") or Path(path).stem] = precision_by_convolution(dump["layers"], names)
    else:
        gen = Generator(Path(ir), precision="int8")
        gen.stylize(np.full((*shape, 3), 127, np.uint8))
        runs["this CPU"] = precision_by_convolution(runtime_layers(gen.runtime_model), names)
    print(f"{ir} at {shape[0]}x{shape[1]}")
    print(format_table(facts, runs))
    if json_path is not None:
        write_json(json_path, {"ir": str(ir), "shape": list(shape),
                                     "convolutions": [asdict(f) for f in facts], "runs": runs}, indent=1)
    return 0
