"""Scan the machine code of Numba kernels for floating-point instructions.

The contract this enforces: every ``@njit`` function in ``intq.kernels`` uses integer
instructions only, so it can run on a CPU without an FPU. Each module of the package declares,
in a module-level ``SIGNATURES: dict[str, list[str]]``, the Numba signatures intq compiles each
of its kernels for; :func:`scan` compiles every declared (kernel, signature) pair and looks for
floating-point instructions in the assembly LLVM generates for it.

Three layers, usable separately:

* :func:`float_instructions` — a pure text scanner over assembly as LLVM prints it (x86-64
  AT&T syntax, or AArch64), returning ``(function symbol, instruction line)`` pairs.
  :data:`FLOAT_MNEMONIC_PATTERNS` is the pattern set of the machine the tests run on.
* :func:`scan` — discovery plus compilation, **in the current process**: import a package (or
  one module), match its Numba dispatchers against ``SIGNATURES``, compile each pair and scan it.
* :func:`run_scan` — runs :func:`scan` in fresh subprocesses (the pairs split over the CPUs)
  and returns the merged JSON report. Tests use this one, for two reasons:

  1. The kernels are ``@njit(cache=True)``. Code Numba loads from its on-disk cache cannot be
     inspected: ``inspect_asm`` warns "Inspection disabled for cached code. Invalid result is
     returned." and returns nothing useful. The subprocess points ``NUMBA_CACHE_DIR`` at a fresh
     empty directory, so every kernel is compiled from scratch (and the user's cache is neither
     read nor polluted). The subprocess also turns that warning into an error, as a safety net.
  2. The environment is normalised: ``NUMBA_DISABLE_JIT=1`` (which the test suite may use to
     run kernels as plain Python) would leave no dispatchers to scan, and ``NUMBA_OPT`` or debug
     variables would change or pollute what is scanned. All ``NUMBA_*`` variables except the
     target-selection ones (``NUMBA_CPU_NAME``, ``NUMBA_CPU_FEATURES``) are dropped.

Command line (what :func:`run_scan` executes)::

    python tests/fpu_scan.py [--sys-path DIR ...] [--shard I/N] [--include-asm] \
        --out REPORT.json TARGET

``TARGET`` is a dotted module name: a package (all its modules are scanned, as for
``intq.kernels``) or a single module.

What is scanned, and why Numba's wrappers are not excluded. ``dispatcher.inspect_asm(sig)``
is the assembly of the whole LLVM module of that overload, after Numba has linked in the
libraries of every jitted function it calls. Callees are made ``linkonce_odr`` there, so each
appears either inlined into the kernel or as a function of its own in the same text (e.g.
``gemm.micro_kernel``, ``fixedpoint_math.exp_on_negative_values``); for ``parallel=True`` the text
also holds the parfor gufunc that runs the ``prange`` body (``_ZN13_3cdynamic_3e…parfor_gufunc…``)
and its wrapper (``__gufunc__.…``). Besides these it holds Numba's CPython wrapper
(``_ZN7cpython…``: unboxes the Python arguments, boxes the result), the C-callable wrapper
(``cfunc._ZN…``) and the runtime helpers ``NRT_incref``/``NRT_decref``. We scan **every**
function of that text, wrappers included, because the wrappers turned out to contain no
floating-point instruction. Evidence (Numba 0.68.1, llvmlite 0.50 / LLVM 22.1, x86-64 AMD EPYC
with AVX2+FMA; all 117 (kernel, signature) pairs of intq.kernels, 2026-05): the only SSE/AVX
instructions in the cpython wrappers are ``vxorps %xmm0,%xmm0,%xmm0`` (291), ``vmovups`` (1099)
and ``vmovaps`` (35), and in the cfunc wrappers ``vmovups`` (855), ``vmovaps`` (90) and
``vxorps`` (1): zeroing and copying the structs that hold array arguments, i.e. integer data
moves. Argument conversion (``PyNumber_Long``, ``PyLong_AsLongLong``,
``NRT_adapt_ndarray_from_python``) is done by C functions called through a pointer
(``movabsq $PyLong_AsLongLong, %rax; callq *%rax``), whose code is not in the text. So nothing
needs excluding, and no exclusion can hide a kernel's float. Each finding still records the kind
of function it is in (``kernel``, ``cpython_wrapper``, ``cfunc_wrapper``, ``other``), so a wrapper
that did start to contain floats would be told apart in the failure message.

Not scanned: code outside the text, reached through a pointer. Each result lists those symbols
(``external_symbols``); for the intq kernels they are the CPython C-API, Numba's runtime (NRT,
``numba_gil_ensure``, ``numba_do_raise``...), ``memset``, ``printf`` and, for ``parallel=True``
kernels, the threading layer (``numba_parallel_for``, ``do_scheduling_unsigned``...).
Calls to known float library functions (libm, compiler-rt soft-float, Numba's float helpers) are
flagged as ``fp-libcall``. Note that Numba's parallel scheduler itself (``divide_work``,
``equalizing_chunk``, ``guround`` in ``numba/np/ufunc/workqueue*.so``/``omppool``/``tbbpool``)
is compiled C++ that does use SSE float arithmetic (``cvtsi2ss``, ``divss``, ``mulss``...) to
split the iteration space; that is outside what this scan can see.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import pkgutil
import platform
import re
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

__all__ = [
    "AARCH64_FLOAT_MNEMONIC_PATTERNS",
    "FLOAT_MNEMONIC_PATTERNS",
    "X86_64_FLOAT_MNEMONIC_PATTERNS",
    "external_symbols",
    "float_instruction_categories",
    "float_instructions",
    "function_symbols",
    "instructions",
    "kernel_asm",
    "run_scan",
    "scan",
]

# --------------------------------------------------------------------------------------------
# Instruction patterns
# --------------------------------------------------------------------------------------------
# Each pattern is matched (re.match) against one normalised instruction: the mnemonic, one space,
# then the operands with their whitespace collapsed, e.g. "vcvtsi2sd %rax, %xmm0, %xmm0".
# Mnemonics are matched whole (each pattern ends the mnemonic with (?:\s|$)).

_END = r"(?:\s|$)"
# External functions that do floating-point work out of sight: libm (with f/l variants),
# compiler-rt's soft-float and complex helpers, and Numba's helperlib float functions. Code
# that calls one has its float instructions in that library, not in the text we scan.
_FP_LIBRARY_FUNCTION = (
    r"(?:(?:exp|exp2|expm1|log|log2|log10|log1p|pow|sqrt|cbrt|hypot|sin|cos|tan|asin|acos|atan"
    r"|atan2|sinh|cosh|tanh|asinh|acosh|atanh|erf|erfc|tgamma|lgamma|fmod|remainder|floor|ceil"
    r"|trunc|round|rint|nearbyint|lround|llround|lrint|llrint|ldexp|frexp|modf|copysign|fabs"
    r"|fmin|fmax|fdim|fma|sincos)[fl]?"
    r"|__(?:add|sub|mul|div|neg)[sdtx]f3|__float[a-z]+[sdtx]f|__fix(?:uns)?[sdtx]f[a-z]+"
    r"|__(?:eq|ne|lt|le|gt|ge|unord|cmp)[sdt]f2|__extend[a-z]+f2|__trunc[a-z]+f2"
    r"|__powi[sdtx]f2|__(?:mul|div)[sdxt]c3"
    r"|numba_(?:l?gammaf?|erfc?f?|cpow|round_ndigits|frexp|ldexp))"
    r"(?:@PLT)?(?=,|\s|$)"
)
_FP_SUFFIX = r"(?:ss|sd|ps|pd|sh|ph)"  # scalar/packed single, double, half


class PatternSet(dict):
    """Named regexes (category -> pattern) for one architecture, plus its comment markers."""

    def __init__(self, patterns: dict[str, re.Pattern[str]], *, comments: tuple[str, ...]):
        super().__init__(patterns)
        # "#" in x86 AT&T syntax; "//" (ELF) or ";" (Mach-O) on AArch64, where "#" is an immediate.
        self.comments = comments


X86_64_FLOAT_MNEMONIC_PATTERNS = PatternSet(
    {
        # SSE/AVX/AVX-512 float arithmetic, scalar and packed, legacy and VEX/EVEX (v-) forms:
        # addsd, vmulps, vsqrtsd, vminss, rcpps, vrsqrtps, roundsd, vrndscalepd, vscalefps...
        # Integer SIMD ops all start with "p"/"vp" (vpminsd, vpmaxsd, vpaddq), so they cannot match.
        "sse-avx-arith": re.compile(
            r"v?(?:add|sub|mul|div|sqrt|min|max|rcp|rsqrt|round|rcp14|rsqrt14|rcp28|rsqrt28"
            r"|scalef|getexp|getmant|rndscale|reduce|range|fixupimm|exp2)" + _FP_SUFFIX + _END
        ),
        # addsubps, horizontal adds/subs (haddps, vhsubpd), dot products (dpps, vdpbf16ps).
        "sse-avx-horizontal": re.compile(
            r"v?(?:addsub(?:ps|pd)|h(?:add|sub)(?:ps|pd)|dp(?:ps|pd)|dpbf16ps)" + _END
        ),
        # FMA3 (vfmadd231ps, vfnmsub213sd, vfmaddsub132pd) and FMA4 (vfmaddps).
        "fma": re.compile(
            r"vf(?:n)?m(?:add|sub|addsub|subadd)(?:132|213|231)?" + _FP_SUFFIX + _END
        ),
        # Float comparisons: (v)ucomis*, (v)comis*, cmpss/cmpps and LLVM's predicate pseudo-forms
        # (cmpltsd, vcmpneq_oqps, vcmpunordps), vfpclass*. The integer compares cmpb/cmpw/cmpl/cmpq,
        # cmpxchg and the string compares cmpsb/cmpsw/cmpsl/cmpsq do not end in a float suffix;
        # "cmpsd" is also the string compare of a doubleword in Intel syntax, so without the v- it
        # only counts when it has an xmm operand.
        "compare": re.compile(
            "|".join(
                [
                    r"v?u?comis[sdh]" + _END,
                    r"vcmp[a-z_]*" + _FP_SUFFIX + _END,
                    r"cmp[a-z_]*(?:ss|ps|pd|sh|ph)" + _END,
                    r"cmp[a-z_]*sd\s.*%xmm",
                    r"vfpclass" + _FP_SUFFIX + _END,
                ]
            )
        ),
        # Every conversion that involves a float: cvtsi2sd(l|q), cvttsd2si, cvtss2sd, cvtdq2ps,
        # vcvtps2ph, vcvtusi2sd, vcvtne2ps2bf16... No integer instruction starts with "cvt": the
        # sign-extensions cltq/cqto/cwtl/cltd/cbtw are spelled differently.
        "convert": re.compile(r"v?cvt[a-z0-9]*" + _END),
        # x87: every x86 mnemonic starting with "f" is an x87/FPU instruction (fld, fldl, fstpl,
        # fild(l|ll), fistp(l|ll), fisttp, fadd(p), fmul, fdiv(r)(p), fsub(r)(p), fcom(i)(p),
        # fucom*, fxch, fchs, fabs, fsqrt, fprem, frndint, fsin, fldcw, fnstcw, fnstsw, fxsave...).
        "x87": re.compile(r"f[a-z0-9]*" + _END),
        # 3DNow! (long gone, but cheap to recognise).
        "3dnow": re.compile(
            r"(?:pf(?:add|sub|subr|mul|max|min|acc|nacc|pnacc|rcp\w*|rsq\w*|cmp\w*)"
            r"|pi2f[dw]|pf2i[dw])" + _END
        ),
        # Reading or writing the SSE float control/status register.
        "fp-control": re.compile(r"v?(?:ld|st)mxcsr" + _END),
        # A call to (or, in the large code model Numba uses, the address load of) a float library
        # function: "movabsq $exp, %rax" then "callq *%rax"; "callq sqrtf@PLT"; "jmp fmod".
        "fp-libcall": re.compile(r"(?:movabsq \$|callq? |jmpq? )" + _FP_LIBRARY_FUNCTION),
    },
    comments=("#",),
)
# Deliberately NOT matched (integer code uses them all; none does float arithmetic):
#   movaps/movups/vmovups/vmovaps, movss/movsd/vmovss/vmovsd, movhps/movlps/movhlps/movlhps,
#   xorps/andps/andnps/orps (and -pd), blendps/vblendvps/vblendvpd, shufps/vshufps, unpcklps,
#   vpermilps/vpermpd/vpermps, vbroadcastss/vbroadcastsd, vinsertf128/vextractf128/vperm2f128,
#   insertps/extractps, movmskps/movmskpd, vtestps, vmaskmovps, vgather*ps: LLVM picks these
#   "float-domain" forms for integer data too (e.g. vxorps %xmm0,%xmm0,%xmm0 to zero a struct,
#   vshufps + vpermpd to narrow int64 lanes to int32). Integer SIMD (vmovdqu, vpaddq, vpmuldq,
#   vpcmpgtq, vpminsd...) is not matched either.

AARCH64_FLOAT_MNEMONIC_PATTERNS = PatternSet(
    {
        # Every A64 mnemonic starting with "f" is a floating-point instruction: fadd, fsub, fmul,
        # fdiv, fmadd, fmsub, fnmadd, fnmul, fsqrt, fabs, fneg, fmin(nm), fmax(nm), frint*, fcvt*
        # (fcvtzs, fcvtzu, fcvtas...), fcmp, fccmp, fcsel, fcmeq/fcmgt (vector), fmla/fmls, faddp,
        # frecpe/frsqrte, fjcvtzs, and fmov. fmov always reads or writes an FP/SIMD register
        # (fmov d0, x8 / fmov x8, d0 / fmov s0, #1.0): it is flagged too, as the contract asks for
        # code that never needs the FP/SIMD unit.
        "fp": re.compile(r"f[a-z0-9]*(?:\.[a-z0-9]+)?" + _END),
        # Integer <-> float conversions that do not start with "f".
        "convert": re.compile(r"(?:scvtf|ucvtf|bfcvt[a-z0-9]*)" + _END),
        # BFloat16 arithmetic.
        "bf16": re.compile(r"bf(?:dot|mmla|mlal[bt]?)" + _END),
        # A call to a float library function ("bl exp", "b fmod"), or its address built piecewise
        # in the large code model ("movz x8, #:abs_g3:exp") or page-relative ("adrp x8, exp").
        "fp-libcall": re.compile(
            r"(?:bl? |movz \w+, #:abs_g\d(?:_nc)?:|movk \w+, #:abs_g\d(?:_nc)?:|adrp \w+, )"
            + _FP_LIBRARY_FUNCTION
        ),
    },
    comments=("//", ";"),
)

_PATTERNS_BY_MACHINE = {
    "x86_64": X86_64_FLOAT_MNEMONIC_PATTERNS,
    "amd64": X86_64_FLOAT_MNEMONIC_PATTERNS,
    "aarch64": AARCH64_FLOAT_MNEMONIC_PATTERNS,
    "arm64": AARCH64_FLOAT_MNEMONIC_PATTERNS,
}


def patterns_for_machine(machine: str | None = None) -> PatternSet:
    """The pattern set for ``machine`` (default: ``platform.machine()``)."""
    machine = (machine or platform.machine()).lower()
    try:
        return _PATTERNS_BY_MACHINE[machine]
    except KeyError:
        raise NotImplementedError(
            f"no float-instruction patterns for machine {machine!r}"
        ) from None


try:
    FLOAT_MNEMONIC_PATTERNS = patterns_for_machine()
except NotImplementedError:  # importable anywhere; scanning then needs an explicit pattern set
    FLOAT_MNEMONIC_PATTERNS = PatternSet({}, comments=("#",))

# --------------------------------------------------------------------------------------------
# Assembly parsing
# --------------------------------------------------------------------------------------------

_NAME = r'("(?:[^"\\]|\\.)*"|[^\s,"]+)'  # a symbol, possibly quoted
# ".type name,@function" (ELF; AArch64 may print "%function").
_TYPE_FUNCTION = re.compile(r"^\s*\.type\s+" + _NAME + r"\s*,\s*[@%]function\s*$")
# Mach-O has no .type: there, functions are the labels declared global or weak.
_GLOBAL = re.compile(r"^\s*\.(?:globl|weak_definition|weak_def_can_be_hidden)\s+" + _NAME + r"\s*$")
_LABEL = re.compile(r'^("(?:[^"\\]|\\.)*"|[^\s:"#]+):')
_PREFIXES = {
    "lock", "rep", "repe", "repz", "repne", "repnz", "notrack", "data16", "data32", "addr32",
    "rex64", "xacquire", "xrelease", "cs", "ds", "es", "fs", "gs", "ss",
}  # fmt: skip


def _unquote(name: str) -> str:
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == '"' else name


def _strip_comment(line: str, comments: tuple[str, ...]) -> str:
    """Drop a trailing comment (any of ``comments`` up to the end of the line), outside quotes."""
    if not any(c in line for c in comments):
        return line
    in_quote = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_quote = not in_quote
        elif not in_quote and line.startswith(comments, i):
            return line[:i]
    return line


def function_symbols(asm_text: str) -> list[str]:
    """Names of the functions defined in ``asm_text``, in order.

    ELF (Linux): the symbols declared ``.type X,@function``, which includes internal ones.
    Mach-O (macOS) has no ``.type``; there, the symbols declared ``.globl`` or weak.
    """
    lines = asm_text.splitlines()
    names = [_unquote(m.group(1)) for m in map(_TYPE_FUNCTION.match, lines) if m]
    if not names and ".type" not in asm_text:
        names = [_unquote(m.group(1)) for m in map(_GLOBAL.match, lines) if m]
    return list(dict.fromkeys(names))


def instructions(
    asm_text: str, comments: tuple[str, ...] = ("#",)
) -> list[tuple[str | None, str, str]]:
    """Every instruction of ``asm_text`` as ``(function symbol, normalised instruction, line)``.

    A function starts at the label of a symbol of :func:`function_symbols` (on Linux, declared
    ``.type X,@function``) and extends to the next such label; local labels (``.LBB0_4``,
    ``.Ltmp3``) stay inside it. Directives (``.p2align``, ``.cfi_*``, data such as ``.quad``),
    labels and comments are skipped. The symbol is ``None`` for instructions before any function
    label (not expected in LLVM output). The normalised instruction has prefixes (``lock``,
    ``rep``, ``{vex}``) removed, a lower-case mnemonic and whitespace collapsed:
    ``"vcvtsi2sd %rax, %xmm0, %xmm0"``.
    """
    functions = set(function_symbols(asm_text))
    current: str | None = None
    out: list[tuple[str | None, str, str]] = []
    for raw in asm_text.splitlines():
        line = _strip_comment(raw, comments).strip()
        # Labels, possibly followed by an instruction on the same line.
        while True:
            m = _LABEL.match(line)
            if not m:
                break
            name = _unquote(m.group(1))
            if name in functions:
                current = name
            line = line[m.end() :].strip()
        if not line or line.startswith("."):
            continue  # empty, or a directive
        tokens = line.split()
        while tokens and (tokens[0].lower() in _PREFIXES or tokens[0].startswith("{")):
            tokens.pop(0)
        if not tokens:
            continue
        mnemonic = tokens[0].lower()
        operands = " ".join(tokens[1:])
        out.append((current, f"{mnemonic} {operands}".rstrip(), raw.strip()))
    return out


def float_instructions(
    asm_text: str, patterns: PatternSet | None = None
) -> list[tuple[str | None, str]]:
    """Floating-point instructions in ``asm_text``, as ``(function symbol, instruction line)``.

    ``patterns`` defaults to :data:`FLOAT_MNEMONIC_PATTERNS` (those of ``platform.machine()``);
    pass :data:`X86_64_FLOAT_MNEMONIC_PATTERNS` or :data:`AARCH64_FLOAT_MNEMONIC_PATTERNS` to scan
    the other architecture's text. The line is the source line, stripped.
    """
    if patterns is None:
        patterns = FLOAT_MNEMONIC_PATTERNS
    if not patterns:
        raise NotImplementedError(f"no float-instruction patterns for {platform.machine()!r}")
    combined = _combined(tuple(patterns.values()))
    comments = getattr(patterns, "comments", ("#",))
    return [
        (symbol, line)
        for symbol, instr, line in instructions(asm_text, comments)
        if combined.match(instr)
    ]


@functools.lru_cache(maxsize=8)
def _combined(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str]:
    """One regex matching what any of ``patterns`` matches (a 117-kernel scan is ~10^6 lines)."""
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns))


def float_instruction_categories(instr_line: str, patterns: PatternSet | None = None) -> list[str]:
    """The pattern categories (``"convert"``, ``"x87"``...) one instruction line matches."""
    patterns = FLOAT_MNEMONIC_PATTERNS if patterns is None else patterns
    found = instructions(instr_line, getattr(patterns, "comments", ("#",)))
    if not found:
        return []
    instr = found[0][1]
    return [name for name, p in patterns.items() if p.match(instr)]


# --------------------------------------------------------------------------------------------
# Compilation and discovery (run these in a process with a fresh NUMBA_CACHE_DIR)
# --------------------------------------------------------------------------------------------


def _is_dispatcher(obj) -> bool:
    from numba.core.dispatcher import Dispatcher

    return isinstance(obj, Dispatcher)


def kernel_asm(dispatcher, signature: str) -> dict:
    """Compile ``dispatcher`` for the Numba signature string ``signature``; return its assembly.

    Returns ``{"asm": text, "mangled_name": ..., "cpython_wrapper": ..., "cfunc_wrapper": ...}``;
    the names are the symbols of the kernel itself and of Numba's two wrappers in ``asm``.
    Raises ``RuntimeError`` if the overload came from Numba's on-disk cache (its assembly would
    be invalid): call this in a process whose ``NUMBA_CACHE_DIR`` is a fresh empty directory,
    as :func:`run_scan` does.
    """
    from numba.core import sigutils

    args, _return_type = sigutils.normalize_signature(signature)
    dispatcher.compile(signature)
    overload = dispatcher.overloads[tuple(args)]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Inspection disabled for cached code")
        try:
            asm = dispatcher.inspect_asm(tuple(args))
        except UserWarning as exc:
            raise RuntimeError(
                f"{dispatcher.py_func.__qualname__} {signature}: loaded from Numba's cache, its "
                "assembly cannot be inspected; set NUMBA_CACHE_DIR to a fresh directory"
            ) from exc
    fndesc = overload.fndesc
    return {
        "asm": asm,
        "mangled_name": fndesc.mangled_name,
        "cpython_wrapper": fndesc.llvm_cpython_wrapper_name,
        "cfunc_wrapper": fndesc.llvm_cfunc_wrapper_name,
    }


def _modules(target: str, problems: list[str]) -> list:
    """The modules named by ``target``: every module of a package, or the module itself.

    A module that fails to import is reported in ``problems`` and skipped.
    """
    module = importlib.import_module(target)
    if not hasattr(module, "__path__"):
        return [module]
    modules = [module] if hasattr(module, "SIGNATURES") else []
    for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda i: i.name):
        name = f"{target}.{info.name}"
        try:
            modules.append(importlib.import_module(name))
        except Exception as exc:
            problems.append(f"{name}: import failed: {exc!r}")
    return modules


def discover(target: str) -> tuple[list[tuple[str, str, object, str]], list[str]]:
    """Declared ``(module, kernel, dispatcher, signature)`` of ``target``, and problems found.

    A problem is a module without ``SIGNATURES`` (that has dispatchers), a dispatcher defined in
    a module but missing from its ``SIGNATURES``, a ``SIGNATURES`` name with no dispatcher of
    that module, or a kernel declared with no signature. Dispatchers imported from another
    module (``from .fixed_point import requantize``) belong to that module and are skipped.
    """
    pairs: list[tuple[str, str, object, str]] = []
    problems: list[str] = []
    for module in _modules(target, problems):
        name = module.__name__
        dispatchers = {
            attr: obj
            for attr, obj in vars(module).items()
            if _is_dispatcher(obj) and getattr(obj.py_func, "__module__", None) == name
        }
        declared = getattr(module, "SIGNATURES", None)
        if declared is None:
            if dispatchers:
                problems.append(
                    f"{name}: no module-level SIGNATURES dict, but it defines @njit kernels "
                    f"{sorted(dispatchers)}"
                )
            continue
        if not isinstance(declared, dict):
            problems.append(f"{name}: SIGNATURES is a {type(declared).__name__}, not a dict")
            continue
        for kernel in sorted(set(dispatchers) - set(declared)):
            problems.append(f"{name}.{kernel}: @njit kernel missing from SIGNATURES")
        for kernel in sorted(set(declared) - set(dispatchers)):
            problems.append(
                f"{name}.{kernel}: listed in SIGNATURES but no @njit kernel of that name"
            )
        for kernel in sorted(set(declared) & set(dispatchers)):
            sigs = declared[kernel]
            if isinstance(sigs, str) or not sigs:
                problems.append(f"{name}.{kernel}: SIGNATURES entry must be a non-empty list")
                continue
            for sig in sigs:
                pairs.append((name, kernel, dispatchers[kernel], sig))
    return pairs, problems


# Symbols referenced by a call or an address load (x86-64 large code model: "movabsq $sym, %rax";
# AArch64: "bl sym", "movz x8, #:abs_g3:sym", "adrp x8, sym").
_SYMBOL_REFERENCE = re.compile(
    r"^\s*(?:movabsq\s+\$|callq?\s+|jmpq?\s+|bl\s+|b\s+|adrp\s+\w+,\s*"
    r"|mov[zk]\s+\w+,\s*#:abs_g\d(?:_nc)?:)"
    r'("[^"]+"|[A-Za-z_][\w.$@]*)',
    re.MULTILINE,
)


def external_symbols(asm_text: str) -> list[str]:
    """Symbols ``asm_text`` calls or takes the address of but does not define (sorted).

    Local labels, Numba's environment objects (``_ZN08NumbaEnv…``) and constants (``.const.…``)
    are left out. What remains is code that runs but is not in the text: C functions of CPython,
    of Numba's runtime and threading layer, of libc or libm.
    """
    defined = {_unquote(m.group(1)) for m in map(_LABEL.match, asm_text.splitlines()) if m}
    found = set()
    for m in _SYMBOL_REFERENCE.finditer(asm_text):
        name = _unquote(m.group(1)).removesuffix("@PLT")
        if name in defined or name.startswith((".", "_ZN08NumbaEnv")):
            continue
        found.add(name)
    return sorted(found)


def _function_kind(symbol: str | None, info: dict) -> str:
    if symbol is None:
        return "other"
    if symbol == info["cpython_wrapper"] or symbol.startswith("_ZN7cpython"):
        return "cpython_wrapper"
    if symbol == info["cfunc_wrapper"] or symbol.startswith("cfunc."):
        return "cfunc_wrapper"
    if symbol.startswith(("_ZN", "__gufunc__.")):
        # The kernel, a jitted callee not inlined, or a parfor gufunc (body or wrapper).
        return "kernel"
    return "other"


def scan(target: str, *, include_asm: bool = False, shard: tuple[int, int] = (0, 1)) -> dict:
    """Compile and scan every declared kernel/signature of ``target``, in this process.

    With ``shard=(i, n)`` only the declared pairs whose index is ``i`` modulo ``n`` are compiled
    (``declared`` still counts them all), so that ``n`` processes can share the work.

    Returns a JSON-able report::

        {"target": ..., "machine": ..., "numba": ..., "llvm": ...,
         "problems": [str, ...],          # discovery or compilation failures
         "declared": N,                   # (kernel, signature) pairs declared
         "results": [{"module", "kernel", "signature", "mangled_name", "asm_lines",
                      "asm_has_mangled_name", "functions": [symbol, ...],
                      "external_symbols": [symbol, ...],
                      "findings": [{"symbol", "kind", "category", "line"}, ...]}, ...]}

    ``index`` is the pair's position among the declared pairs (modules by name, then kernels by
    name, then signatures in declaration order).
    """
    import llvmlite.binding
    import numba

    pairs, problems = discover(target)
    index, count = shard
    results = []
    for position in range(index, len(pairs), count):
        module, kernel, dispatcher, sig = pairs[position]
        try:
            info = kernel_asm(dispatcher, sig)
        except Exception as exc:  # report it and carry on with the other kernels
            problems.append(f"{module}.{kernel} {sig}: compilation failed: {exc!r}")
            continue
        asm = info["asm"]
        findings = [
            {
                "symbol": symbol,
                "kind": _function_kind(symbol, info),
                "category": ",".join(float_instruction_categories(line)),
                "line": line,
            }
            for symbol, line in float_instructions(asm)
        ]
        result = {
            "index": position,
            "module": module,
            "kernel": kernel,
            "signature": sig,
            "mangled_name": info["mangled_name"],
            "asm_lines": len(asm.splitlines()),
            "asm_has_mangled_name": bool(info["mangled_name"]) and info["mangled_name"] in asm,
            "functions": function_symbols(asm),
            "external_symbols": external_symbols(asm),
            "findings": findings,
        }
        if include_asm:
            result["asm"] = asm
        results.append(result)
    return {
        "target": target,
        "machine": platform.machine(),
        "numba": numba.__version__,
        "llvm": ".".join(map(str, llvmlite.binding.llvm_version_info)),
        "problems": problems,
        "declared": len(pairs),
        "results": results,
    }


# --------------------------------------------------------------------------------------------
# Subprocess driver
# --------------------------------------------------------------------------------------------

# Target selection is kept; everything else Numba reads from the environment is dropped.
_KEPT_NUMBA_VARS = {"NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES"}


def _default_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


def run_scan(
    target: str = "intq.kernels",
    *,
    sys_path: list[str | os.PathLike] | tuple = (),
    include_asm: bool = False,
    workers: int | None = None,
    timeout: float = 900,
) -> dict:
    """:func:`scan` ``target`` in fresh Python subprocesses, each with an empty Numba cache.

    ``sys_path`` entries are put first on the subprocesses' ``sys.path`` (to scan a package
    outside the installed ones, e.g. one written to ``tmp_path``). Compilation dominates, so the
    declared pairs are split over ``workers`` processes (default: the usable CPUs, at most 4)
    and the reports merged: ``results`` sorted by ``index``, ``problems`` without duplicates.
    Raises ``RuntimeError`` with a subprocess's output if it fails.
    """
    workers = workers or _default_workers()
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith("NUMBA_") or k in _KEPT_NUMBA_VARS
    }
    base_env["NUMBA_DISABLE_JIT"] = "0"
    base_env["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryDirectory(prefix="intq-fpu-scan-") as tmp:
        procs = []
        for shard in range(workers):
            cache_dir = Path(tmp, f"numba-cache-{shard}")
            cache_dir.mkdir()
            out = Path(tmp, f"report-{shard}.json")
            cmd = [sys.executable, str(Path(__file__).resolve()), "--out", str(out)]
            cmd += ["--shard", f"{shard}/{workers}"]
            for entry in sys_path:
                cmd += ["--sys-path", str(entry)]
            if include_asm:
                cmd.append("--include-asm")
            cmd.append(target)
            env = dict(base_env, NUMBA_CACHE_DIR=str(cache_dir))
            log = Path(tmp, f"log-{shard}.txt").open("w+")
            procs.append(
                (subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT), out, log)
            )
        reports = []
        try:
            for proc, out, log in procs:
                returncode = proc.wait(timeout=timeout)
                log.seek(0)
                output = log.read()
                log.close()
                if returncode != 0 or not out.exists():
                    raise RuntimeError(
                        f"FPU scan of {target} failed (exit {returncode}):\n{output}"
                    )
                reports.append(json.loads(out.read_text()))
        finally:
            for proc, _, log in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                log.close()
    merged = dict(reports[0])
    merged["problems"] = list(dict.fromkeys(p for r in reports for p in r["problems"]))
    merged["results"] = sorted((x for r in reports for x in r["results"]), key=lambda x: x["index"])
    merged["workers"] = workers
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="dotted name of a package or module to scan")
    parser.add_argument("--out", required=True, help="write the JSON report here")
    parser.add_argument("--sys-path", action="append", default=[], help="prepend to sys.path")
    parser.add_argument("--include-asm", action="store_true", help="put the assembly in the report")
    parser.add_argument("--shard", default="0/1", help="I/N: scan the pairs whose index is I mod N")
    args = parser.parse_args(argv)
    index, count = (int(part) for part in args.shard.split("/"))
    # This file's directory is sys.path[0] when run as a script; it holds no kernels.
    for entry in reversed(args.sys_path):
        sys.path.insert(0, entry)
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    if not cache_dir or any(Path(cache_dir).iterdir()):
        print("fpu_scan: NUMBA_CACHE_DIR must be set to an empty directory", file=sys.stderr)
        return 2
    report = scan(args.target, include_asm=args.include_asm, shard=(index, count))
    Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
