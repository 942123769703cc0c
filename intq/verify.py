"""Layer-by-layer verification: where, and why, two engines' integer tensors part ways.

``compare`` lines up two dumps (tensor name → integer array) in execution order and reports,
per tensor, how many elements differ and by how many LSB; the first divergent tensor and the op
that produced it are where to look. ``verify_graph`` does this for an intq graph against another
engine's dump; ``explain`` re-runs the op behind the first divergence on the dump's own input
tensors under every registered profile and says which arithmetic convention reproduces the
dump's values bit for bit (a double- vs single-rounding build, say). ``plot`` draws the
per-tensor figures.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from .graph import Graph, Op
from .io import hdf5
from .io.atomic import atomic_write
from .profiles import available_profiles
from .runtime import run_op

Arrays = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class TensorDiff:
    """One tensor present on both sides.

    ``problem`` describes a shape or dtype disagreement (None when both agree). Values are
    compared whenever the shapes agree and both dtypes are integer: ``mismatches`` elements
    differ, ``max_abs_diff`` is the largest ``|candidate − reference|`` in LSB (computed in
    int64) and ``histogram`` maps every difference ``candidate − reference`` (0 included) to its
    exact count. When values cannot be compared, those three are None.
    """

    name: str
    producer: str | None
    shape: tuple[int, ...]
    dtype: str
    candidate_shape: tuple[int, ...]
    candidate_dtype: str
    mismatches: int | None
    max_abs_diff: int | None
    histogram: dict[int, int] | None
    problem: str | None = None

    @property
    def size(self) -> int:
        """Number of elements of the reference tensor."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def share(self) -> float | None:
        """Fraction of mismatching elements (0.0 for an empty tensor); None if not compared."""
        if self.mismatches is None:
            return None
        return self.mismatches / self.size if self.size else 0.0

    @property
    def ok(self) -> bool:
        """True when shape, dtype and every value agree."""
        return self.problem is None and self.mismatches == 0

    def to_dict(self) -> dict:
        """The row as JSON values (histogram keys become strings, as JSON requires)."""
        return {
            "name": self.name,
            "producer": self.producer,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "candidate_shape": list(self.candidate_shape),
            "candidate_dtype": self.candidate_dtype,
            "size": self.size,
            "mismatches": self.mismatches,
            "share": self.share,
            "max_abs_diff": self.max_abs_diff,
            "histogram": None
            if self.histogram is None
            else {str(k): v for k, v in self.histogram.items()},
            "problem": self.problem,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class Report:
    """The comparison of a candidate dump with a reference dump.

    ``rows``: one ``TensorDiff`` per tensor present on both sides, in execution order.
    ``missing_in_candidate``: reference tensors the candidate lacks (they cannot be verified,
    so the report is not ``ok``); ``missing_in_reference``: candidate tensors the reference
    lacks (a dump may cover a subset of the tensors; listed, not a failure). ``candidate`` holds
    the candidate's arrays (not part of ``to_dict``), for ``explain``.
    """

    rows: list[TensorDiff]
    missing_in_candidate: list[str]
    missing_in_reference: list[str]
    candidate: Arrays = field(default_factory=dict, repr=False, compare=False)

    @property
    def first_divergent(self) -> TensorDiff | None:
        """The first row in execution order that is not ``ok``, or None."""
        return next((row for row in self.rows if not row.ok), None)

    @property
    def ok(self) -> bool:
        """True when every compared tensor agrees exactly and no reference tensor is missing."""
        return not self.missing_in_candidate and all(row.ok for row in self.rows)

    def to_table(self) -> str:
        """A fixed-width table (tensor, producer op, shape, mismatches, share, max |Δ|), then
        the missing tensors and the first divergent tensor."""
        header = ("tensor", "producer op", "shape", "mismatches", "share", "max |Δ|")
        body = [_table_row(row) for row in self.rows]
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
                 for line in [header, *body]]  # fmt: skip
        lines.insert(1, "  ".join("-" * w for w in widths))
        for label, names in (
            ("missing in the candidate", self.missing_in_candidate),
            ("missing in the reference", self.missing_in_reference),
        ):
            if names:
                lines.append(f"{label}: {', '.join(names)}")
        first = self.first_divergent
        if first is not None:
            lines.append(
                f"first divergent tensor: {first.name} (produced by {first.producer or '-'})"
            )
        agree = sum(row.ok for row in self.rows)
        lines.append(
            f"{'OK' if self.ok else 'MISMATCH'}: {agree} of {len(self.rows)} compared "
            "tensors agree exactly"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The report as JSON values."""
        first = self.first_divergent
        return {
            "ok": self.ok,
            "first_divergent": None
            if first is None
            else {"tensor": first.name, "producer": first.producer},
            "tensors": [row.to_dict() for row in self.rows],
            "missing_in_candidate": list(self.missing_in_candidate),
            "missing_in_reference": list(self.missing_in_reference),
        }


def _table_row(row: TensorDiff) -> tuple[str, ...]:
    shape = "x".join(map(str, row.shape)) or "scalar"
    if row.problem is not None and row.mismatches is None:
        return (row.name, row.producer or "-", shape, row.problem, "-", "-")
    mismatches = f"{row.mismatches}" + (f" ({row.problem})" if row.problem else "")
    return (row.name, row.producer or "-", shape, mismatches, f"{row.share:.2%}",
            str(row.max_abs_diff))  # fmt: skip


def _diff(name: str, producer: str | None, ref: np.ndarray, cand: np.ndarray) -> TensorDiff:
    ref, cand = np.asarray(ref), np.asarray(cand)
    problems = []
    if ref.shape != cand.shape:
        problems.append(f"shape {list(cand.shape)} != {list(ref.shape)}")
    if ref.dtype != cand.dtype:
        problems.append(f"dtype {cand.dtype} != {ref.dtype}")
    comparable = ref.shape == cand.shape and all(
        np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_ for a in (ref, cand)
    )
    mismatches = max_abs = histogram = None
    if comparable:
        # uint64 values above 2^63 would wrap in int64; dumps hold at most 32-bit integers.
        delta = cand.astype(np.int64) - ref.astype(np.int64)
        values, counts = np.unique(delta, return_counts=True)
        histogram = {int(v): int(c) for v, c in zip(values, counts, strict=True)}
        mismatches = int(delta.size - histogram.get(0, 0))
        max_abs = int(np.abs(delta).max()) if delta.size else 0
    return TensorDiff(
        name=name,
        producer=producer,
        shape=tuple(ref.shape),
        dtype=str(ref.dtype),
        candidate_shape=tuple(cand.shape),
        candidate_dtype=str(cand.dtype),
        mismatches=mismatches,
        max_abs_diff=max_abs,
        histogram=histogram,
        problem="; ".join(problems) or None,
    )


def compare(
    reference: Arrays,
    candidate: Arrays,
    *,
    order: Sequence[str] | None = None,
    producers: Mapping[str, str] | None = None,
) -> Report:
    """Compare ``candidate`` with ``reference``, tensor by tensor, exactly.

    Tensors present on both sides are compared in ``order`` (default: the reference's order;
    names on both sides that ``order`` omits follow in the reference's order). A shape or dtype
    disagreement is reported in that tensor's row, not raised; values are compared as int64
    differences ``candidate − reference``. ``producers`` maps a tensor name to the name of the
    op that wrote it, for the report. Tensors present on one side only are listed in
    ``missing_in_candidate`` / ``missing_in_reference``.
    """
    producers = producers or {}
    order = list(reference) if order is None else list(order)
    names = [n for n in dict.fromkeys([*order, *reference]) if n in reference and n in candidate]
    rows = [_diff(n, producers.get(n), reference[n], candidate[n]) for n in names]
    return Report(
        rows=rows,
        missing_in_candidate=[n for n in reference if n not in candidate],
        missing_in_reference=[n for n in candidate if n not in reference],
        candidate=candidate,
    )


def _load_against(against: Arrays | str | os.PathLike) -> dict[str, np.ndarray]:
    """The dump as name → array: ``against`` itself, or the dump file at that path."""
    if isinstance(against, Mapping):
        return dict(against)
    return {name: tensor.data for name, tensor in hdf5.load_dump(against).items()}


def _execution_order(graph: Graph) -> list[str]:
    """Graph inputs, then for each op its constant inputs and its output."""
    order = list(graph.inputs)
    for op in graph.ops:
        order += [n for n in op.inputs if graph.tensors[n].is_constant]
        order += list(op.outputs)
    return list(dict.fromkeys(order))


def verify_graph(
    graph: Graph,
    inputs: Arrays,
    against: Arrays | str | os.PathLike,
    *,
    progress: bool = False,
) -> Report:
    """Run ``graph`` on ``inputs`` with a trace and compare it with the dump ``against``.

    ``against`` is a mapping of tensor name → array or the path of a dump file
    (``intq.io.hdf5.load_dump``); it is the reference, intq's trace the candidate. Tensors are
    compared in the graph's execution order; constants (weights, biases) are compared too when
    the dump holds them. Each row names the op that produced the tensor. ``progress`` shows a
    tqdm bar over the ops (``Graph.run``).
    """
    dump = _load_against(against)
    candidate = dict(graph.run(inputs, trace=True, progress=progress))
    candidate.update({n: t.data for n, t in graph.tensors.items() if t.is_constant and n in dump})
    return compare(dump, candidate, order=_execution_order(graph), producers=graph.producers())


@dataclass(frozen=True)
class ProfileTrial:
    """The divergent op re-run under one profile: ``mismatches`` against the dump's tensor and
    the largest ``|Δ|`` in LSB, or the ``reason`` the op could not be derived or run."""

    profile: str
    mismatches: int | None
    max_abs_diff: int | None
    reason: str | None = None

    @property
    def reproduces(self) -> bool:
        """True when this profile gives the dump's tensor exactly."""
        return self.reason is None and self.mismatches == 0

    def to_dict(self) -> dict:
        """The trial as JSON values."""
        return {
            "profile": self.profile,
            "mismatches": self.mismatches,
            "max_abs_diff": self.max_abs_diff,
            "reason": self.reason,
            "reproduces": self.reproduces,
        }


@dataclass(frozen=True)
class Explanation:
    """Why the first divergent tensor differs, as far as the profiles can tell.

    ``tensor`` and ``op`` name the divergent tensor and its producer (None when nothing diverged
    or the tensor has no producer, see ``note``); ``input_sources`` says, per op input, whether
    the dump's array (``"dump"``) or intq's (``"intq"``) was fed to the op; ``trials`` holds one
    ``ProfileTrial`` per registered profile.
    """

    tensor: str | None
    op: str | None
    op_type: str | None
    input_sources: dict[str, str]
    trials: list[ProfileTrial]
    note: str | None = None

    @property
    def reproducing(self) -> list[str]:
        """Names of the profiles that reproduce the dump's tensor exactly."""
        return [t.profile for t in self.trials if t.reproduces]

    def to_text(self) -> str:
        """A few readable lines: the op, where its inputs came from, one line per profile."""
        if self.op is None:
            return f"explain: {self.note}"
        sources = ", ".join(f"{n} ({s})" for n, s in self.input_sources.items())
        lines = [
            f"explain: {self.tensor} is produced by {self.op} ({self.op_type}); "
            f"re-run on inputs {sources}"
        ]
        for t in self.trials:
            verdict = (
                f"cannot derive/run: {t.reason}"
                if t.reason is not None
                else f"{t.mismatches} mismatches, max |Δ| {t.max_abs_diff}"
                + ("  <- reproduces the dump" if t.reproduces else "")
            )
            lines.append(f"  {t.profile:<28} {verdict}")
        lines.append(
            "reproduced by: " + ", ".join(self.reproducing)
            if self.reproducing
            else "no registered profile reproduces the dump's tensor"
        )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The explanation as JSON values."""
        return {
            "tensor": self.tensor,
            "op": self.op,
            "op_type": self.op_type,
            "input_sources": dict(self.input_sources),
            "trials": [t.to_dict() for t in self.trials],
            "reproducing": self.reproducing,
            "note": self.note,
        }


def _trial(graph: Graph, op: Op, profile: str, arrays: list, expected: np.ndarray) -> ProfileTrial:
    """Re-derive ``op`` under ``profile``, run it on ``arrays`` and compare with ``expected``."""
    out = graph.tensors[op.outputs[0]]
    # A one-op graph: a profile that fails on some other op must not hide this op's answer.
    alone = Graph(graph.tensors, [op], list(graph.inputs), list(op.outputs), graph.profile)
    try:
        derived = alone.with_profile(profile).ops[0]
        got = run_op(derived, arrays, out.dtype)
    except (ValueError, TypeError) as exc:
        return ProfileTrial(profile, None, None, reason=str(exc))
    diff = _diff(out.name, op.name, expected, got)
    if diff.mismatches is None:
        return ProfileTrial(profile, None, None, reason=diff.problem)
    return ProfileTrial(profile, diff.mismatches, diff.max_abs_diff)


def _unproduced(graph: Graph, name: str) -> str:
    """Why a divergent tensor without a producing op cannot be explained by re-running one."""
    tensor = graph.tensors.get(name)
    if tensor is None:
        return f"{name} is not a tensor of the graph"
    kind = "constant" if tensor.is_constant else "graph input"
    return f"{name} is a {kind}, not produced by any op: the dump's {kind} differs from intq's"


def explain(
    graph: Graph, report: Report, against: Arrays | str | os.PathLike, *, progress: bool = False
) -> Explanation:
    """Re-run the op behind ``report.first_divergent`` under every registered profile.

    The op (from ``graph``) is fed the dump's arrays for its inputs where the dump (``against``:
    a mapping or a dump file path) has them, else intq's (``report.candidate``). Under each
    profile of ``intq.profiles.available_profiles()`` the op's params are re-derived
    (``graph.with_profile``) and the op is run with ``intq.runtime.run_op``; the result is
    compared with the dump's tensor. A profile under which the op cannot be derived or run
    (``ValueError``/``TypeError``) is listed with its reason. ``progress`` shows a tqdm bar on
    stderr over the profiles.
    """
    first = report.first_divergent
    if first is None:
        return Explanation(None, None, None, {}, [], note="no divergent tensor to explain")
    op = next((o for o in graph.ops if first.name in o.outputs), None)
    if op is None:
        return Explanation(first.name, None, None, {}, [], note=_unproduced(graph, first.name))
    dump = _load_against(against)
    intq_arrays = {**report.candidate,
                   **{n: t.data for n, t in graph.tensors.items() if t.is_constant}}  # fmt: skip
    sources = {n: "dump" if n in dump else "intq" for n in op.inputs}
    arrays = [dump[n] if n in dump else intq_arrays[n] for n in op.inputs]
    profiles = tqdm(available_profiles(), desc=f"explain {op.name}", unit="profile",
                    file=sys.stderr, disable=not progress)  # fmt: skip
    trials = [_trial(graph, op, p, arrays, dump[first.name]) for p in profiles]
    return Explanation(first.name, op.name, op.type, sources, trials)


def plot(report: Report, path: str | os.PathLike) -> None:
    """Write a PNG to ``path`` (atomically) with two panels over the compared tensors in
    execution order: the share of mismatching elements and the max ``|Δ|`` in LSB. Tensors
    whose values could not be compared (a shape mismatch) are drawn as red bars at share 1."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [row.name for row in report.rows]
    x = np.arange(len(names))
    share = [1.0 if row.share is None else row.share for row in report.rows]
    max_abs = [0 if row.max_abs_diff is None else row.max_abs_diff for row in report.rows]
    colors = ["tab:blue" if row.mismatches is not None else "tab:red" for row in report.rows]
    fig = Figure(figsize=(max(6.0, 0.35 * len(names) + 2.0), 6.0), layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas: no display, no pyplot state
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.bar(x, share, color=colors)
    top.set_ylabel("mismatch share")
    top.set_ylim(0, 1.05)
    bottom.bar(x, max_abs, color=colors)
    bottom.set_ylabel("max |Δ| (LSB)")
    bottom.set_xticks(x, names, rotation=90, fontsize=7)
    first = report.first_divergent
    fig.suptitle("all tensors agree" if first is None else f"first divergent tensor: {first.name}")
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png")
