"""The op table of the README, generated from the runtime's registry so it
cannot drift: one row per group of ops, with the ONNX versions of each op's
schema (cnnrt imports every one from opset 7 on) and cnnrt's notes.

    python -m cnnrt.optable README.md     # rewrites the table between its markers

A registered op without a row here, or a row naming an op the runtime does
not have, fails tests/test_readme.py."""
from __future__ import annotations

import sys
from typing import Dict, List, Tuple

# Ops the importer handles itself, beside those the runtime registers.
IMPORT_ONLY = {"Constant": "an initializer", "Upsample": "rewritten to Resize"}

GROUPS: List[Tuple[Tuple[str, ...], str]] = [
    (('Conv',), '1-D and 2-D; group, depthwise, dilations, strides, pads, auto_pad (SAME_UPPER, SAME_LOWER, VALID); constant weights packed at load'),
    (('ConvTranspose',), '1-D and 2-D; group, depthwise, dilations, strides, pads, output_padding, output_shape, auto_pad; bias; GEMM + col2im scatter, constant weights packed at load; runs NCHW'),
    (('Resize',), 'Upsample (opsets 7-10) is imported as Resize; nearest (4 nearest_modes), linear, cubic (cubic_coeff_a, exclude_outside) over any axes; every coordinate_transformation_mode incl. tf_crop_and_resize (roi, extrapolation_value); scales or sizes (constants, run-time inputs or computed from Shape), axes, keep_aspect_ratio_policy, antialias; Upsample 7-10 and Resize-10 with their asymmetric rule; float32; runs NCHW'),
    (('MaxPool', 'AveragePool'), "1-D and 2-D; pads, strides, dilations, ceil_mode, auto_pad; count_include_pad (AveragePool); MaxPool's Indices output (storage_order 0 and 1)"),
    (('GlobalAveragePool', 'GlobalMaxPool'), 'any rank >= 3'),
    (('Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Selu', 'Sigmoid', 'Tanh', 'HardSigmoid', 'HardSwish', 'Clip'), 'PRelu with unidirectional slope broadcast; Clip with min/max as attributes (opset < 11) or inputs'),
    (('Gelu', 'Mish', 'Softplus', 'Softsign', 'Celu', 'ThresholdedRelu'), "Gelu's approximate 'none' and 'tanh'; fused into Conv/Gemm/MatMul like the activations above"),
    (('Sqrt', 'Exp', 'Log', 'Abs', 'Neg', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign', 'Erf'), 'Round half to even; Abs, Neg and Sign also on int64; NaN/inf as onnxruntime'),
    (('ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSum', 'ReduceLogSumExp'), "axes as attribute or input (per opset), keepdims, noop_with_empty_axes, negative and empty axes; float32, int64 (Sum/Max/Min/Prod), bool (Max/Min); NaN propagates through Max/Min (numpy's rule)"),
    (('ArgMax', 'ArgMin'), 'axis, keepdims, select_last_index; float32 and int64'),
    (('TopK',), 'k as attribute (opset < 10) or input; axis, largest, sorted; ties to the lower index; float32 and int64'),
    (('LpNormalization',), 'p 1 or 2, any axis'),
    (('Softmax', 'LogSoftmax'), 'the 2-D coercion before opset 13, a single axis from 13 on'),
    (('BatchNormalization',), 'inference mode; folded into the Conv or Gemm before it where possible'),
    (('LRN',), 'across channels'),
    (('Gemm',), 'transA, transB, alpha, beta, C broadcast; a constant B is packed at load, over its own bytes where the Gemm is its only reader and the panel width (8 / 16 / 32) divides N'),
    (('MatMul',), 'numpy semantics: 1-D promotion, batch broadcasting; a batched A against a 2-D B is one GEMM; a constant 2-D B is packed at load as Gemm\'s'),
    (('InstanceNormalization', 'LayerNormalization', 'GroupNormalization'), "any rank >= 3 (LayerNorm: any axis, negative too, broadcast Scale/B, optional Mean and InvStdDev outputs, stash_type 1); GroupNormalization's opset 18 (per-group) and 21 (per-channel) scale/bias; two-pass statistics on x - x[0]"),
    (('LSTM', 'GRU'), 'forward, reverse, bidirectional; B, sequence_lens (per batch entry; a constant or int64 input), initial_h/initial_c, peepholes, clip, input_forget, linear_before_reset, layout 0/1; default activations only (others: UnsupportedOpError); one GEMM projects the whole sequence, constant W/R packed at load'),
    (('NonMaxSuppression',), "center_point_box 0/1, all optional inputs; onnxruntime's order and tie rules; its output's row count depends on the data, so it is returned as a graph output (a node reading it is refused)"),
    (('Add', 'Sub', 'Mul', 'Div', 'Sum'), 'numpy broadcasting; float32 and int64'),
    (('Flatten', 'Reshape', 'Squeeze', 'Unsqueeze'), 'views, with no copy; Reshape with 0, -1 and allowzero'),
    (('Transpose', 'Concat', 'Gather'), 'any rank; float32, int64 and bool'),
    (('Shape', 'ConstantOfShape', 'Constant'), 'shape subgraphs are evaluated when the plan is built, so Shape -> Gather -> Unsqueeze -> Concat -> (Slice, Range, Expand, Where, Equal, Cast, ...) -> Reshape works with a dynamic batch'),
    (('Pad',), 'constant, reflect, edge, wrap; pads as attribute (opset < 11) or input, constant_value, axes (18); negative pads crop; a zero spatial Pad before a Conv is folded into its pads'),
    (('Slice', 'Split'), 'starts/ends/axes attributes (opset < 10) or inputs with steps; negative indices and steps, INT64 extremes; Split by attribute, input or num_outputs (18)'),
    (('Tile', 'Expand', 'DepthToSpace', 'SpaceToDepth'), 'copies of contiguous runs, threaded when large; DepthToSpace DCR and CRD (SpaceToDepth CRD from opset 28)'),
    (('Range', 'Cast', 'Where'), 'Range bounds known when the plan is built (constants or int64 shape values); Cast between float32, int64 and bool'),
    (('Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'Xor'), 'numpy broadcasting, bool output'),
    (('Min', 'Max', 'Mean', 'Pow'), 'variadic with broadcasting (Min/Max also int64); Pow with float32 or int64 base and exponent, fast paths for x^2, x^3, x^0.5'),
    (('Dropout', 'Identity'), 'removed at load (inference)'),
]

BEGIN = "<!-- op-table:begin (generated: python -m cnnrt.optable README.md) -->"
END = "<!-- op-table:end -->"


def _versions() -> Dict[str, List[int]]:
    import onnx.defs

    out: Dict[str, List[int]] = {}
    for s in onnx.defs.get_all_schemas_with_history():
        if s.domain in ("", "ai.onnx"):
            out.setdefault(s.name, []).append(int(s.since_version))
    return {k: sorted(set(v)) for k, v in out.items()}


def listed_ops() -> List[str]:
    return [op for ops, _ in GROUPS for op in ops]


def drift(registered) -> Tuple[List[str], List[str]]:
    """(registered ops without a row, ops in rows that are neither registered
    nor handled by the importer)."""
    listed = set(listed_ops())
    missing = sorted(set(registered) - listed)
    extra = sorted(listed - set(registered) - set(IMPORT_ONLY))
    return missing, extra


def markdown() -> str:
    vers = _versions()
    lines = ["| op | ONNX versions of the op | notes |", "|---|---|---|"]
    for ops, note in GROUPS:
        v = "; ".join((f"{op} " if len(ops) > 1 else "") + ", ".join(map(str, vers.get(op, []))) for op in ops)
        lines.append(f"| {', '.join(ops)} | {v} | {note} |")
    return "\n".join(lines)


def rewrite(path: str) -> bool:
    """Puts the generated table between the markers in `path`; True if it changed."""
    text = open(path, encoding="utf-8").read()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path}: no op-table markers ({BEGIN} ... {END})")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{markdown()}\n{END}{tail}"
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
    return new != text


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m cnnrt.optable README.md", file=sys.stderr)
        return 2
    from . import supported_ops

    missing, extra = drift(supported_ops())
    if missing or extra:
        print(f"optable.GROUPS is out of date: no row for {missing}; rows for unknown ops {extra}", file=sys.stderr)
        return 1
    print("rewrote the op table" if rewrite(argv[0]) else "op table up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
