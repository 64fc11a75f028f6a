"""Exact accumulation of float64 sums in fixed point (a Kulisch-style long accumulator).

Every finite double is an integer multiple of 2⁻¹⁰⁷⁴. An accumulator is an int64 array of
``LIMBS`` entries: limb ``i`` counts units of 2^(32·i − 1074), so the accumulated value is
Σ acc[i]·2^(32·i − 1074), exactly. Adding a double splits its 53-bit significand over three
neighbouring limbs (each part below 2³²), so integer addition — exact and associative — does
the summing: the result does not depend on the order of the terms, nor on how they are split
between ranks, as long as every limb stays inside int64. A limb takes at most 2³² per term, so
``MAX_TERMS`` = 2³⁰ terms may go into an accumulator between two :func:`normalize` calls, and
normalized accumulators (limbs in [0, 2³²), the top one signed) can be summed element-wise —
``MPI_Allreduce(SUM)`` on int64 — over up to 2³⁰ ranks.

The last slot, ``acc[NONFINITE]``, counts NaN and infinite terms; :func:`to_float` then returns
NaN.

:func:`to_float` rounds the exact value to a double by summing the limbs' values from the most
significant down (after turning the number into sign and magnitude), which is within two units
in the last place of the exact sum (faithful in practice) and, above all, a function of the
exact value alone: equal exact sums give equal bits. The method is the one of Kulisch's exact
dot product (U. Kulisch, *Computer Arithmetic and Validity*, de Gruyter 2008, ch. 8) with
32-bit digits in 64-bit words so that carries can wait.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: limbs of 32 bits from 2⁻¹⁰⁷⁴ up to past 2¹⁰²⁴ (67 value limbs), plus the non-finite counter
LIMBS = 68
NONFINITE = LIMBS - 1
VALUE_LIMBS = LIMBS - 1
MAX_TERMS = 2 ** 30
_MASK = (1 << 32) - 1
_MANTISSA = (1 << 52) - 1


@njit(cache=True, inline="always")
def add_term(acc, bits):  # pragma: no cover - compiled
    """Add the double whose IEEE-754 bit pattern is ``bits`` (int64) to ``acc`` (int64[LIMBS]).

    Branch-free (the sign of a product is as good as random, and a mispredicted branch costs
    more than the arithmetic). Returns 1 for a NaN or infinity (which then adds garbage to the
    limbs: the caller counts it into ``acc[NONFINITE]``), else 0.
    """
    field = (bits >> 52) & 0x7FF
    normal = np.int64(field != 0)
    mant = (bits & _MANTISSA) | (normal << 52)
    pos = field - normal  # the significand's last bit is 2^(pos − 1074); subnormals: pos = 0
    limb = pos >> 5
    shift = pos & 31
    sign = bits >> 63  # 0 or −1: (x ^ sign) − sign is x or −x
    low = (mant << shift) & _MASK  # wraps past 64 bits, but the low 32 bits are right
    rest = mant >> (32 - shift)
    acc[limb] += (low ^ sign) - sign
    acc[limb + 1] += ((rest & _MASK) ^ sign) - sign
    acc[limb + 2] += ((rest >> 32) ^ sign) - sign
    return np.int64(field == 0x7FF)


#: terms per extraction pass; 2^9 ≥ CHUNK + 2 (see add_chunk)
CHUNK = 256
_LOG2_SPAN = 9
_HUGE = 2.0 ** 1000
_TINY = 2.0 ** -960
_STEP = 2.0 ** -44  # σ of the second extraction of a pass, relative to the first


@njit(cache=True)
def add_chunk(acc, terms, count):  # pragma: no cover - compiled
    """Add terms[:count] (float64, count ≤ CHUNK) to ``acc`` (int64[LIMBS]) exactly;
    ``terms`` is clobbered. Scans the terms, then :func:`add_scanned`."""
    top = 0.0
    check = 0.0
    for t in range(count):
        top = max(top, abs(terms[t]))
        check += terms[t] - terms[t]
    add_scanned(acc, terms, count, top, check)


@njit(cache=True)
def add_scanned(acc, terms, count, top, check):  # pragma: no cover - compiled
    """:func:`add_chunk` for a caller that scanned the terms as it wrote them: ``top`` is
    max|terms[t]| over the finite terms and ``check`` is Σ (terms[t] − terms[t]), which is 0
    when every term is finite and NaN otherwise.

    Error-free extraction (Rump, Ogita, Oishi, "Accurate floating-point summation part I",
    SIAM J. Sci. Comput. 31(1), 2008, Lemma 3.3): with σ = 2^k ≥ 2^9·max|p|, q = (σ + p) − σ
    and p' = p − q are exact, p = q + p', and Σq summed in floating point is exact. So each
    extraction adds one exact double to the accumulator and leaves remainders at least 44 bits
    smaller; passes of two extractions repeat until the remainders vanish. Terms near the ends
    of the exponent range (and NaN, infinity) take the bit-by-bit path instead.
    """
    cell = np.empty(1)
    cell_bits = cell.view(np.int64)
    bits = terms.view(np.int64)
    if check != 0.0:  # NaN: a term is not finite
        top = check
    while top != 0.0:  # NaN enters, and takes the bit-by-bit path
        if not (_TINY <= top < _HUGE):  # also NaN and infinity
            bad = 0
            for t in range(count):
                bad += add_term(acc, bits[t])
            acc[NONFINITE] += bad
            return
        sigma = math.ldexp(1.0, math.frexp(top)[1] + _LOG2_SPAN)  # top < 2^e
        # two extractions per pass: after the first, |p'| ≤ 2⁻⁵³·σ, so σ' = 2⁻⁴⁴·σ meets the
        # lemma's bound a priori. Four chains per level: every partial sum of the q is exact,
        # so the order of the additions does not matter, and independent chains keep the
        # pipeline busy.
        fine = sigma * _STEP
        a0 = a1 = b0 = b1 = 0.0
        m0 = m1 = 0.0
        pairs = count - count % 2
        for t in range(0, pairs, 2):
            p = terms[t]
            q = (sigma + p) - sigma
            a0 += q
            p -= q
            q = (fine + p) - fine
            b0 += q
            p -= q
            terms[t] = p
            m0 = max(m0, abs(p))
            p = terms[t + 1]
            q = (sigma + p) - sigma
            a1 += q
            p -= q
            q = (fine + p) - fine
            b1 += q
            p -= q
            terms[t + 1] = p
            m1 = max(m1, abs(p))
        if pairs < count:
            p = terms[pairs]
            q = (sigma + p) - sigma
            a0 += q
            p -= q
            q = (fine + p) - fine
            b0 += q
            p -= q
            terms[pairs] = p
            m0 = max(m0, abs(p))
        top = max(m0, m1)
        cell[0] = a0 + a1
        add_term(acc, cell_bits[0])
        cell[0] = b0 + b1
        add_term(acc, cell_bits[0])


@njit(cache=True)
def accumulate(values, acc):  # pragma: no cover - compiled
    """Add every entry of ``values`` (float64, 1-D, at most ``MAX_TERMS``) to ``acc``."""
    terms = np.empty(CHUNK)
    for start in range(0, values.size, CHUNK):
        count = min(CHUNK, values.size - start)
        for t in range(count):
            terms[t] = values[start + t]
        add_chunk(acc, terms, count)


@njit(cache=True)
def accumulate_dot(u, v, acc):  # pragma: no cover - compiled
    """Add the rounded products u[t]·v[t] (float64, same 1-D shape) to ``acc``."""
    terms = np.empty(CHUNK)
    for start in range(0, u.size, CHUNK):
        count = min(CHUNK, u.size - start)
        for t in range(count):
            terms[t] = u[start + t] * v[start + t]
        add_chunk(acc, terms, count)


@njit(cache=True)
def normalize(acc):  # pragma: no cover - compiled
    """Propagate carries in place: limbs 0…65 in [0, 2³²), the top value limb signed."""
    for i in range(VALUE_LIMBS - 1):
        carry = acc[i] >> 32  # arithmetic shift: floor division, also for negative limbs
        acc[i] -= carry << 32
        acc[i + 1] += carry


@njit(cache=True)
def to_float(acc):  # pragma: no cover - compiled
    """The accumulated value as a double (see the module docstring); ``acc`` is not changed."""
    if acc[NONFINITE] != 0:
        return math.nan
    work = acc.copy()
    normalize(work)
    sign = 1.0
    if work[VALUE_LIMBS - 1] < 0:
        sign = -1.0
        for i in range(VALUE_LIMBS):
            work[i] = -work[i]
        normalize(work)
    total = 0.0
    for i in range(VALUE_LIMBS - 1, -1, -1):
        if work[i] != 0:
            total += math.ldexp(float(work[i]), 32 * i - 1074)
    return sign * total


def new_accumulator() -> np.ndarray:
    """A zeroed accumulator: int64, shape ``(LIMBS,)``."""
    return np.zeros(LIMBS, dtype=np.int64)


def exact_sum(values: np.ndarray) -> float:
    """Σ values, accumulated exactly and rounded once (order-independent). float64, 1-D.

    Raises
    ------
    ValueError
        When ``values`` is not a 1-D float64 array or holds more than ``MAX_TERMS`` entries.
    """
    values = np.ascontiguousarray(values)
    if values.dtype != np.float64 or values.ndim != 1:
        raise ValueError(f"need a 1-D float64 array, got {values.dtype} {values.shape}")
    if values.size > MAX_TERMS:
        raise ValueError(f"{values.size} terms exceed one accumulator's {MAX_TERMS}")
    acc = new_accumulator()
    accumulate(values, acc)
    return float(to_float(acc))


def precompile() -> None:
    """Compile every kernel of this module on a few values."""
    acc = new_accumulator()
    x = np.array([1.0, -2.5, 1e-300])
    accumulate(x, acc)
    accumulate_dot(x, x, acc)
    normalize(acc)
    to_float(acc)
