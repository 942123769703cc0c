"""Every kernel in intq.kernels compiles to integer instructions only (no FPU needed).

The machinery is in ``fpu_scan.py`` (beside this file): each kernel module declares the Numba
signatures it is compiled for in ``SIGNATURES``; the scan compiles every (kernel, signature)
pair in a subprocess with an empty Numba cache (cached code cannot be inspected) and looks for
floating-point instructions in the assembly. ``test_scanner_catches_a_planted_float`` checks
that the same machinery does find floats when they are there.
"""

import importlib
import pkgutil
import platform
import re
import textwrap

import pytest
from fpu_scan import (
    AARCH64_FLOAT_MNEMONIC_PATTERNS,
    X86_64_FLOAT_MNEMONIC_PATTERNS,
    external_symbols,
    float_instruction_categories,
    float_instructions,
    function_symbols,
    run_scan,
)

# Runtime entry points whose compiled code is known to contain floating-point instructions.
FLOAT_USING_RUNTIME = ("numba_parallel_for", "do_scheduling", "printf", "puts")

X86 = X86_64_FLOAT_MNEMONIC_PATTERNS
A64 = AARCH64_FLOAT_MNEMONIC_PATTERNS


def _declared_pairs(package: str) -> int:
    """(kernel, signature) pairs declared by the modules of ``package``, counted in this process."""
    pkg = importlib.import_module(package)
    total = 0
    for info in pkgutil.iter_modules(pkg.__path__):
        module = importlib.import_module(f"{package}.{info.name}")
        total += sum(len(sigs) for sigs in getattr(module, "SIGNATURES", {}).values())
    return total


def _format_findings(report: dict, limit: int = 12) -> str:
    lines = []
    for result in report["results"]:
        if not result["findings"]:
            continue
        lines.append(f"{result['module']}.{result['kernel']} {result['signature']}:")
        for finding in result["findings"][:limit]:
            lines.append(
                f"    {finding['line']}    [{finding['category']} in {finding['kind']} "
                f"{finding['symbol']}]"
            )
        if len(result["findings"]) > limit:
            lines.append(f"    ... and {len(result['findings']) - limit} more")
    return "\n".join(lines)


def _check_non_vacuous(report: dict) -> None:
    assert report["declared"] > 0, "no (kernel, signature) pair was declared"
    assert len(report["results"]) == report["declared"], (
        f"scanned {len(report['results'])} of {report['declared']} declared pairs"
    )
    for result in report["results"]:
        name = f"{result['module']}.{result['kernel']} {result['signature']}"
        assert result["asm_lines"] > 0, f"{name}: empty assembly"
        assert result["asm_has_mangled_name"], f"{name}: {result['mangled_name']} not in the asm"
        assert result["mangled_name"] in result["functions"], (
            f"{name}: the asm does not define the kernel's function {result['mangled_name']}"
        )


# --------------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------------


def test_every_kernel_is_fpu_free():
    report = run_scan("intq.kernels")
    assert not report["problems"], "SIGNATURES/compilation problems:\n" + "\n".join(
        report["problems"]
    )
    _check_non_vacuous(report)
    assert report["declared"] == _declared_pairs("intq.kernels")
    # Code a kernel calls but whose instructions are outside the scanned text must not be known to
    # use the FPU: Numba's parallel scheduler (prange) splits the iteration space with SSE float
    # arithmetic (divss, cvtsi2ss in workqueue/omppool/tbbpool), and printf formats floats.
    float_runtime = [
        f"{r['module']}.{r['kernel']} {r['signature']}: calls {name}"
        for r in report["results"]
        for name in r["external_symbols"]
        if name.startswith(FLOAT_USING_RUNTIME)
    ]
    assert not float_runtime, (
        "kernels call runtime code that uses floating point (use range, not prange; "
        "parallelism belongs outside the kernels):\n" + "\n".join(float_runtime)
    )
    flagged = _format_findings(report)
    assert not flagged, (
        f"floating-point instructions in integer kernels ({report['machine']}, "
        f"Numba {report['numba']}, LLVM {report['llvm']}):\n{flagged}"
    )


# --------------------------------------------------------------------------------------------
# The scanner finds floats when they are there
# --------------------------------------------------------------------------------------------

PLANTED = """
import math

import numpy as np
from numba import njit

from .clean import clean_sum  # imported from another module: not this module's kernel

SIGNATURES = {
    "scale_by_half": ["int32(int32)"],
    "true_divide": ["int64(int64, int64)"],
    "int_sqrt": ["int64(int64)"],
    "float_accumulate": ["int64(int32[::1])"],
    "libm_exp": ["int64(int64)"],
}


@njit(cache=True)
def scale_by_half(x):
    return np.int32(x * 0.5)  # int -> double, multiply, double -> int


@njit(cache=True)
def true_divide(x, y):
    return np.int64(x / y)  # true division of ints is a float division


@njit(cache=True)
def int_sqrt(x):
    return np.int64(np.sqrt(x))


@njit(cache=True)
def float_accumulate(x):
    acc = 0.0
    for v in x:
        acc += v
    return np.int64(acc)


@njit(cache=True)
def libm_exp(x):
    return np.int64(math.exp(x))  # the float work is in libm's exp, called through a pointer
"""

CLEAN = """
import numpy as np
from numba import njit

SIGNATURES = {"clean_sum": ["int64(int32[::1])", "int64(int64[::1])"]}


@njit(cache=True)
def clean_sum(x):
    acc = np.int64(0)
    for v in x:
        acc += (v * 3) >> 1
    return acc
"""

BAD_DECLARATIONS = """
from numba import njit

SIGNATURES = {"declared_but_missing": ["int64(int64)"]}


@njit
def undeclared(x):
    return x + 1
"""

NO_SIGNATURES = """
from numba import njit


@njit
def orphan(x):
    return x + 1
"""

# What each planted kernel must show (a regex over the flagged instruction lines, x86-64 and
# AArch64 spellings).
EXPECTED = {
    "scale_by_half": [r"cvt", r"mul|fmul"],
    "true_divide": [r"cvt", r"div"],
    "int_sqrt": [r"sqrt"],
    "float_accumulate": [r"cvt", r"add"],
    "libm_exp": [r"cvt", r"\bexp\b"],  # movabsq $exp, %rax (x86-64) / bl exp (AArch64)
}


@pytest.fixture(scope="module")
def planted_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    package = root / "planted_kernels"
    package.mkdir()
    (package / "__init__.py").write_text('"""Kernels with deliberate floats."""\n')
    (package / "floaty.py").write_text(textwrap.dedent(PLANTED))
    (package / "clean.py").write_text(textwrap.dedent(CLEAN))
    (package / "bad_declarations.py").write_text(textwrap.dedent(BAD_DECLARATIONS))
    (package / "no_signatures.py").write_text(textwrap.dedent(NO_SIGNATURES))
    return run_scan("planted_kernels", sys_path=[root], workers=1)


def test_scanner_catches_a_planted_float(planted_report):
    report = planted_report
    _check_non_vacuous(report)
    by_kernel: dict[str, list[dict]] = {}
    for result in report["results"]:
        by_kernel.setdefault(result["kernel"], []).append(result)
    assert sorted(by_kernel) == sorted([*EXPECTED, "clean_sum"])
    assert report["declared"] == len(EXPECTED) + 2  # clean_sum has two signatures

    for kernel, patterns in EXPECTED.items():
        (result,) = by_kernel[kernel]
        lines = [f["line"] for f in result["findings"]]
        assert lines, f"planted float in {kernel} not found"
        for pattern in patterns:
            assert any(re.search(pattern, line) for line in lines), (kernel, pattern, lines)
        # The float is in the kernel's own code, not in a Numba wrapper.
        assert any(f["kind"] == "kernel" for f in result["findings"]), result["findings"]

    for result in by_kernel["clean_sum"]:
        assert result["module"] == "planted_kernels.clean"  # not re-imported by floaty
        assert result["findings"] == [], _format_findings(report)


def test_scanner_names_signature_mismatches(planted_report):
    problems = "\n".join(planted_report["problems"])
    assert "planted_kernels.bad_declarations.undeclared: @njit kernel missing from SIGNATURES" in (
        problems
    )
    assert "planted_kernels.bad_declarations.declared_but_missing: listed in SIGNATURES" in (
        problems
    )
    assert "planted_kernels.no_signatures: no module-level SIGNATURES" in problems
    assert "orphan" in problems
    assert len(planted_report["problems"]) == 3, problems


# --------------------------------------------------------------------------------------------
# float_instructions on handwritten assembly
# --------------------------------------------------------------------------------------------

X86_FLOAT = [
    "vcvtsi2sd %rax, %xmm15, %xmm0",
    "vcvtsi2sdl (%r10), %xmm15, %xmm1",
    "cvtsi2sdq %rax, %xmm0",
    "cvttsd2si %xmm0, %rax",
    "vcvttsd2si %xmm0, %eax",
    "cvtdq2ps %xmm1, %xmm0",
    "vcvtps2pd %xmm0, %ymm0",
    "cvtss2sd %xmm0, %xmm0",
    "vmulsd %xmm1, %xmm0, %xmm0",
    "vmulsd (%rax), %xmm0, %xmm0",
    "mulps %xmm1, %xmm0",
    "addsd %xmm1, %xmm0",
    "vaddpd %ymm1, %ymm0, %ymm0",
    "vsubss %xmm1, %xmm0, %xmm0",
    "divsd %xmm1, %xmm0",
    "vdivps %ymm1, %ymm0, %ymm0",
    "sqrtsd %xmm0, %xmm0",
    "vsqrtpd %ymm0, %ymm0",
    "minss %xmm1, %xmm0",
    "vmaxpd %ymm1, %ymm0, %ymm0",
    "rcpps %xmm0, %xmm1",
    "vrsqrtss %xmm0, %xmm0, %xmm0",
    "roundsd $9, %xmm0, %xmm0",
    "vroundps $1, %ymm0, %ymm0",
    "haddps %xmm1, %xmm0",
    "vhaddpd %ymm1, %ymm0, %ymm0",
    "vfmadd231ps %ymm2, %ymm1, %ymm0",
    "vfmadd213sd %xmm2, %xmm1, %xmm0",
    "vfnmsub132pd %ymm2, %ymm1, %ymm0",
    "vfmaddsub231ps %ymm2, %ymm1, %ymm0",
    "ucomisd %xmm1, %xmm0",
    "vucomiss %xmm1, %xmm0",
    "comisd %xmm1, %xmm0",
    "cmpltsd %xmm1, %xmm0",
    "cmpsd $1, %xmm1, %xmm0",
    "cmpunordps %xmm1, %xmm0",
    "vcmpltps %ymm1, %ymm0, %ymm2",
    "vcmpneq_oqpd %ymm1, %ymm0, %ymm2",
    "fldl 8(%rsp)",
    "fld %st(1)",
    "fildll (%rax)",
    "fistpl (%rsp)",
    "fisttpll (%rsp)",
    "fstpl (%rsp)",
    "fsts (%rax)",
    "faddp %st, %st(1)",
    "fmul %st(1), %st",
    "fdivrp %st, %st(1)",
    "fsubr %st(2), %st",
    "fucomip %st(1), %st",
    "fcomp %st(1)",
    "fxch %st(1)",
    "fchs",
    "fabs",
    "fsqrt",
    "fnstcw -2(%rsp)",
    "ldmxcsr (%rsp)",
    "movabsq $exp, %rax",
    "callq sqrtf@PLT",
    "jmp fmod",
    "movabsq $__muldc3, %rax",
    "{vex} vcvtph2ps %xmm0, %ymm0",
]

X86_INTEGER = [
    "vxorps %xmm0, %xmm0, %xmm0",
    "xorps %xmm0, %xmm0",
    "vxorpd %ymm1, %ymm1, %ymm1",
    "vandpd %ymm1, %ymm2, %ymm0",
    "andnps %xmm1, %xmm0",
    "orps %xmm1, %xmm0",
    "vmovdqu (%rdi), %ymm0",
    "vmovdqa %ymm0, (%rsp)",
    "movaps %xmm0, 16(%rsp)",
    "movups (%rsi), %xmm1",
    "vmovups %ymm0, 32(%rdi)",
    "vmovapd %ymm0, %ymm1",
    "movss (%rax), %xmm0",
    "vmovsd %xmm0, 8(%rsp)",
    "movsd (%rsi), %xmm0",
    "movq %xmm0, %rax",
    "vmovd %eax, %xmm0",
    "vbroadcastss (%rbx), %ymm4",
    "vbroadcastsd (%rbx), %ymm2",
    "vinsertf128 $1, %xmm1, %ymm0, %ymm0",
    "vextractf128 $1, %ymm0, %xmm1",
    "vperm2f128 $49, %ymm1, %ymm0, %ymm0",
    "vpermpd $216, %ymm7, %ymm7",
    "vpermilps $78, %xmm0, %xmm0",
    "vshufps $136, %ymm8, %ymm7, %ymm7",
    "shufps $136, %xmm1, %xmm0",
    "unpcklps %xmm1, %xmm0",
    "blendps $1, %xmm1, %xmm0",
    "vblendvps %ymm10, %ymm4, %ymm7, %ymm7",
    "vblendvpd %ymm13, %ymm12, %ymm2, %ymm12",
    "movmskps %xmm0, %eax",
    "vpaddq %ymm1, %ymm0, %ymm0",
    "vpmuldq %ymm1, %ymm0, %ymm0",
    "vpminsd %ymm1, %ymm0, %ymm0",
    "vpmaxsd %xmm1, %xmm0, %xmm0",
    "pminsd %xmm1, %xmm0",
    "vpsubq %ymm1, %ymm0, %ymm0",
    "vpcmpgtq %ymm1, %ymm0, %ymm2",
    "vpcmpeqd %ymm1, %ymm0, %ymm2",
    "phaddd %xmm1, %xmm0",
    "vpmaddwd %ymm1, %ymm0, %ymm0",
    "vzeroupper",
    "cltq",
    "cqto",
    "cwtl",
    "cltd",
    "cbtw",
    "cmpq %rax, %rbx",
    "cmpl $5, %eax",
    "cmpb $0, (%rdi)",
    "cmpsb",
    "cmpsl (%rdi), (%rsi)",
    "lock cmpxchgq %rcx, (%rdi)",
    "idivq %rcx",
    "divl %ecx",
    "imulq %rsi, %rdi",
    "sarxq %rax, %rbx, %rcx",
    "movabsq $expected_value, %rax",
    "movabsq $_ZN4intq7kernels11fixed_point5srdhmB2v7E, %rax",
    "callq *%rax",
    "lock decq (%rdi)",
    "addq %rax, %rbx # vaddsd in a comment",
]


@pytest.mark.parametrize("instruction", X86_FLOAT)
def test_x86_float_instructions_are_flagged(instruction):
    assert float_instructions(f"\t{instruction}\n", X86) == [(None, instruction)]


@pytest.mark.parametrize("instruction", X86_INTEGER)
def test_x86_integer_instructions_are_not_flagged(instruction):
    assert float_instructions(f"\t{instruction}\n", X86) == []


A64_FLOAT = [
    "fadd d0, d0, d1",
    "fadd v0.2d, v0.2d, v1.2d",
    "fmul s0, s0, s1",
    "fdiv d0, d1, d0",
    "fsub d0, d0, d1",
    "fmadd d0, d1, d2, d0",
    "fnmsub s0, s1, s2, s3",
    "fsqrt d0, d0",
    "fcvtzs x8, d0",
    "fcvtzu w0, s0",
    "fcvt d0, s0",
    "scvtf d0, x8",
    "ucvtf s0, w0",
    "fcmp d0, #0.0",
    "fccmp d0, d1, #0, ne",
    "fcsel d0, d1, d2, gt",
    "fmov d0, x8",
    "fmov x0, d0",
    "fmov s0, #1.00000000",
    "fmla v0.4s, v1.4s, v2.4s",
    "frintn d0, d0",
    "bl exp",
    "movz x8, #:abs_g3:exp",
]

A64_INTEGER = [
    "add x0, x1, x2",
    "add x0, x1, #1 // fadd d0, d0, d1",
    "madd x0, x1, x2, x3",
    "smulh x0, x1, x2",
    "sdiv x0, x1, x2",
    "asr x0, x0, #31",
    "ldr x8, [x0, #8]",
    "ldr q0, [x0]",
    "add v0.4s, v0.4s, v1.4s",
    "mov v0.16b, v1.16b",
    "cmp x0, #0",
    "csel x0, x1, x2, gt",
    "bl _ZN4intq7kernels11fixed_point5srdhmE",
    "movz x8, #:abs_g3:NRT_decref",
]


@pytest.mark.parametrize("instruction", A64_FLOAT)
def test_aarch64_float_instructions_are_flagged(instruction):
    assert float_instructions(f"\t{instruction}\n", A64) == [(None, instruction)]


@pytest.mark.parametrize("instruction", A64_INTEGER)
def test_aarch64_integer_instructions_are_not_flagged(instruction):
    assert float_instructions(f"\t{instruction}\n", A64) == []


ASM = """\
\t.text
\t.file\t"<string>"
\t.section\t.rodata.cst8,"aM",@progbits,8
.LCPI0_0:
\t.quad\t0x3fe0000000000000
\t.section\t.ltext,"axl",@progbits
\t.globl\t_ZN6module6kernelE
\t.p2align\t4
\t.type\t_ZN6module6kernelE,@function
_ZN6module6kernelE:
\t.cfi_startproc
\tvxorps\t%xmm0, %xmm0, %xmm0
\ttestq\t%rdi, %rdi
\tjle\t.LBB0_2
.LBB0_1:
\tvcvtsi2sd\t%rdi, %xmm1, %xmm1    # int -> double
\tvmulsd\t.LCPI0_0(%rip), %xmm1, %xmm0
.LBB0_2:
\tretq
.Lfunc_end0:
\t.size\t_ZN6module6kernelE, .Lfunc_end0-_ZN6module6kernelE
\t.cfi_endproc

\t.globl\t_ZN7cpython6module6kernelE
\t.type\t_ZN7cpython6module6kernelE,@function
_ZN7cpython6module6kernelE:
\tvmovups\t%ymm0, (%rsp)
\tmovabsq\t$PyLong_AsLongLong, %rax
\tcallq\t*%rax
\tfldl\t(%rsp)
\tretq
.Lfunc_end1:
\t.size\t_ZN7cpython6module6kernelE, .Lfunc_end1-_ZN7cpython6module6kernelE

\t.type\t"cfunc._ZN6module6kernelE",@function
"cfunc._ZN6module6kernelE":
\tvfmadd231ps\t%ymm2, %ymm1, %ymm0
\tretq
\t.type\t.const.kernel,@object
\t.section\t.lrodata,"al",@progbits
.const.kernel:
\t.asciz\t"fadd"
"""


def test_float_instructions_are_attributed_to_their_function():
    assert function_symbols(ASM) == [
        "_ZN6module6kernelE",
        "_ZN7cpython6module6kernelE",
        "cfunc._ZN6module6kernelE",
    ]
    assert float_instructions(ASM, X86) == [
        ("_ZN6module6kernelE", "vcvtsi2sd\t%rdi, %xmm1, %xmm1    # int -> double"),
        ("_ZN6module6kernelE", "vmulsd\t.LCPI0_0(%rip), %xmm1, %xmm0"),
        ("_ZN7cpython6module6kernelE", "fldl\t(%rsp)"),
        ("cfunc._ZN6module6kernelE", "vfmadd231ps\t%ymm2, %ymm1, %ymm0"),
    ]
    assert external_symbols(ASM) == ["PyLong_AsLongLong"]


@pytest.mark.parametrize(
    "line,categories",
    [
        ("\tvcvtsi2sdl\t(%r10), %xmm15, %xmm1", ["convert"]),
        ("\tvfmadd231ps %ymm2, %ymm1, %ymm0", ["fma"]),
        ("\tfldl\t8(%rsp)", ["x87"]),
        ("\tvucomisd %xmm1, %xmm0", ["compare"]),
        ("\tmovabsq\t$exp, %rax", ["fp-libcall"]),
        ("\tvpaddq %ymm1, %ymm0, %ymm0", []),
    ],
)
def test_float_instruction_categories(line, categories):
    assert float_instruction_categories(line, X86) == categories


def test_default_patterns_are_the_host_ones():
    import fpu_scan

    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        assert fpu_scan.FLOAT_MNEMONIC_PATTERNS is X86
    elif machine in ("aarch64", "arm64"):
        assert fpu_scan.FLOAT_MNEMONIC_PATTERNS is A64
    else:
        pytest.skip(f"no float-instruction patterns for {machine}")
