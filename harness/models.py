"""Scaling models: what each says about time against scale, one registry entry per model.

Every model gives the time at scale ``r = p/p0`` relative to the baseline time, ``g(r) =
T(r)/T0`` with ``g(1) = 1`` (docs/design.md, "Analysis contract"); each is one :class:`Model` in
:data:`REGISTRY`:

- ``amdahl`` (strong; Amdahl 1967): ``g = f + (1 - f)/r``, f in [0, 1], speedup ceiling 1/f.
- ``power`` (strong and weak): ``g = r^-gamma``, gamma in [-1, 1], the one-term form of
  Extra-P's performance model normal form (Calotoiu et al. 2013): perfect strong scaling at
  gamma = 1, a time that grows with scale below 0. Gamma stops at 1: superlinear speedup (a
  working set that starts to fit in cache) does not go on growing, and no model here extends it.
- ``amdahl-log`` (strong): Amdahl plus a collective whose cost grows with ``log2 p``, as a
  tree or recursive-doubling allreduce does (Thakur, Rabenseifner & Gropp 2005):
  ``g = f + (1 - f)/r + c log2 r``, f in [0, 1], c >= 0.
- ``gustafson`` (weak; Gustafson 1988): scaled speedup ``S = r - f(r - 1)``, ``g = r/S``.
- ``usl`` (Gunther's Universal Scalability Law, Gunther 1993/2007): ``S = r/(1 + alpha(r - 1) +
  beta r(r - 1))``, alpha in [0, 1], beta >= 0; strong ``g = 1/S``, weak ``g = r/S``.

How they are fitted, chosen and used to predict is :mod:`harness.modelfit`. Pure: arrays in,
arrays out.
"""


from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

_TINY = 1e-300


# ---- the models ------------------------------------------------------------------------------

RelativeTime = Callable[[str, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
#: ``remark(fit_row, baseline_cores, cores_text) -> str``: what a fit says beyond its
#: parameters (a speedup ceiling, a peak), with its leading separator; "" for nothing
Remark = Callable[[Any, int, Callable[[float], str]], str]


@dataclass(frozen=True)
class Reported:
    """How one fitted parameter is reported: ``name`` (its column in the fits frame, with
    ``<name>_ci95_low``/``_high``), ``key`` and ``ci_key`` in the analysis document, ``fmt``
    in the text table."""

    name: str
    key: str
    ci_key: str
    fmt: str = ".4g"


def _no_remark(row: Any, baseline: int, cores_text: Callable[[float], str]) -> str:
    return ""


@dataclass(frozen=True)
class Model:
    """A scaling model: its parameters, their bounds, the modes it describes, and ``g(r)``.

    ``relative_time(mode, r, theta)`` returns ``g = T(r)/T0`` of shape ``(..., P)`` for ``P``
    scales and the derivatives of ``log g`` with respect to ``theta``, shape ``(..., P, k)``;
    ``theta`` may carry leading grid dimensions, shape ``(..., k)``.
    """

    name: str
    modes: tuple[str, ...]
    params: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    formula: str
    source: str
    relative_time: RelativeTime
    #: a coarse grid of starting points, shape (n, k)
    grid: Callable[[], np.ndarray]
    #: the name tables and reports give it
    title: str = ""
    #: how each parameter is reported (document keys, text format), in ``params`` order
    reported: tuple[Reported, ...] = ()
    #: fits-frame columns derived from the parameters that the document carries as they are
    derived: tuple[str, ...] = ()
    #: the text a fit's line ends with (:data:`Remark`)
    remark: Remark = _no_remark


def _amdahl(mode: str, r: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = theta[..., 0:1]
    g = f + (1.0 - f) / r
    return g, ((1.0 - 1.0 / r) / g)[..., None]


def _amdahl_log(mode: str, r: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f, c = theta[..., 0:1], theta[..., 1:2]
    log_r = np.log2(r)
    g = np.maximum(f + (1.0 - f) / r + c * log_r, _TINY)
    return g, np.stack([(1.0 - 1.0 / r) / g, log_r / g], axis=-1)


def _power(mode: str, r: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gamma = theta[..., 0:1]
    log_r = np.log(r)
    return np.exp(-gamma * log_r), (-log_r * np.ones_like(gamma))[..., None]


def _gustafson(mode: str, r: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = theta[..., 0:1]
    scaled = np.maximum(r - f * (r - 1.0), _TINY)
    return r / scaled, ((r - 1.0) / scaled)[..., None]


def _usl(mode: str, r: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    alpha, beta = theta[..., 0:1], theta[..., 1:2]
    denominator = np.maximum(1.0 + alpha * (r - 1.0) + beta * r * (r - 1.0), _TINY)
    g = denominator / r if mode == "strong" else denominator
    return g, np.stack([(r - 1.0) / denominator, r * (r - 1.0) / denominator], axis=-1)


def _unit_grid() -> np.ndarray:
    return np.linspace(0.0, 1.0, 201)[:, None]


def _exponent_grid() -> np.ndarray:
    return np.linspace(-1.0, 1.0, 201)[:, None]


def _pair_grid(second: np.ndarray) -> Callable[[], np.ndarray]:
    def grid() -> np.ndarray:
        first = np.linspace(0.0, 1.0, 41)
        return np.stack(np.meshgrid(first, second, indexing="ij"), axis=-1).reshape(-1, 2)
    return grid


def _amdahl_remark(row: Any, baseline: int, cores_text: Callable[[float], str]) -> str:
    if row.f >= 1.0:
        return "; no speedup"
    return (f"; speedup ceiling {row.max_speedup:.4g}x" if math.isfinite(row.max_speedup)
            else "; no speedup ceiling")


def _power_remark(row: Any, baseline: int, cores_text: Callable[[float], str]) -> str:
    return " (efficiency ~ r^(gamma - 1))"


def _usl_remark(row: Any, baseline: int, cores_text: Callable[[float], str]) -> str:
    peak = "no peak (beta = 0)"
    if math.isfinite(row.peak_scale):
        peak = (f"speedup peaks at r* = {row.peak_scale:.3g} "
                f"({cores_text(round(row.peak_scale * baseline))})")
        low = row.beta_ci95_low
        if low is not None and math.isfinite(low) and low <= 0:
            peak += " if beta > 0: its 95 % interval reaches 0, so there may be no peak"
    elif row.alpha >= 1.0:
        peak = "no speedup to peak"
    return f"; {peak}"


_SERIAL = Reported("f", "serial_fraction", "ci95")

REGISTRY: dict[str, Model] = {m.name: m for m in (
    Model("amdahl", ("strong",), ("f",), (0.0,), (1.0,),
          "T(r)/T0 = f + (1 - f)/r", "Amdahl 1967", _amdahl, _unit_grid,
          title="Amdahl", reported=(_SERIAL,), derived=("max_speedup",),
          remark=_amdahl_remark),
    Model("power", ("strong", "weak"), ("gamma",), (-1.0,), (1.0,),
          "T(r)/T0 = r^-gamma", "Extra-P's performance model normal form, one term "
          "(Calotoiu et al. 2013)", _power, _exponent_grid,
          title="Power law T ~ p^-gamma", reported=(Reported("gamma", "gamma", "ci95_gamma"),),
          remark=_power_remark),
    Model("amdahl-log", ("strong",), ("f", "c"), (0.0, 0.0), (1.0, np.inf),
          "T(r)/T0 = f + (1 - f)/r + c log2 r", "Amdahl 1967; Thakur et al. 2005",
          _amdahl_log, _pair_grid(np.concatenate([[0.0], np.logspace(-6, 0, 31)])),
          title="Amdahl + c log2 p", reported=(_SERIAL, Reported("c", "c", "ci95_c", ".3g"))),
    Model("gustafson", ("weak",), ("f",), (0.0,), (1.0,),
          "S = r - f (r - 1)", "Gustafson 1988", _gustafson, _unit_grid,
          title="Gustafson", reported=(_SERIAL,)),
    Model("usl", ("strong", "weak"), ("alpha", "beta"), (0.0, 0.0), (1.0, np.inf),
          "S = r / (1 + alpha (r - 1) + beta r (r - 1))", "Gunther 2007", _usl,
          _pair_grid(np.concatenate([[0.0], np.logspace(-10, 1, 45)])),
          title="USL", reported=(Reported("alpha", "alpha", "ci95_alpha"),
                                 Reported("beta", "beta", "ci95_beta", ".3g")),
          derived=("peak_scale",), remark=_usl_remark),
)}
#: parameter names per model (kept for readers of fit tables)
PARAMS = {name: m.params for name, m in REGISTRY.items()}


def models_for(mode: str) -> list[Model]:
    """The models that describe ``mode``, simplest first."""
    return sorted((m for m in REGISTRY.values() if mode in m.modes),
                  key=lambda m: (len(m.params), m.name))


def relative_time(model: str, mode: str, scale: np.ndarray, theta: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``T(r)/T0`` of a registered model and the derivatives of its log (see :class:`Model`).

    Raises
    ------
    ValueError
        For a model name not in :data:`REGISTRY`.
    """
    if model not in REGISTRY:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[model].relative_time(mode, np.asarray(scale, dtype=np.float64),
                                         np.asarray(theta, dtype=np.float64))


def efficiency(model: str, mode: str, scale: np.ndarray, theta: np.ndarray,
               shift: float = 0.0) -> np.ndarray:
    """Parallel efficiency a model gives at ``scale`` (float64, shape (P,)): strong
    ``1/(r g)``, weak ``1/g``, times ``exp(shift)``.

    ``shift`` is ``log T0 - offset``: zero for baseline anchoring, and for trend anchoring the
    log ratio of the measured baseline time to the trend's own (a fit's ``offset``).
    """
    r = np.asarray(scale, dtype=np.float64)
    g, _ = relative_time(model, mode, r, theta)
    return (1.0 / (r * g) if mode == "strong" else 1.0 / g) * math.exp(shift)
