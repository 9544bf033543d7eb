"""Candidate terms of the equation of motion ``d_t phi = sum_j c_j Theta_j[phi]``.

Conservative library (the physics input): every term is a Laplacian,

* ``lap(u^p)`` with ``u = phi - 1/2`` (polynomial chemical potential),
* ``lap(ln(phi / (1 - phi)))`` (the Flory-Huggins entropy of mixing),
* ``lap^2 phi`` (the square-gradient term with a constant coefficient),
* ``lap(psi'(phi) lap psi(phi))`` with ``psi = arcsin(2 phi - 1) / 6`` (the de
  Gennes gradient term, ``kappa(phi) = 1 / (36 phi (1 - phi))``; see
  :class:`~scattermorph.sim.free_energy.FloryHugginsDeGennes`),

so every model in the library is ``d_t phi = lap(mu)`` with ``mu = sum_j c_j
g_j``: the integral of ``phi`` over the periodic box is conserved exactly,
whatever the coefficients. The symmetric blend's free energy is invariant
under ``phi -> 1 - phi`` (``u -> -u``), so its ``mu`` is odd in ``u``;
imposing the symmetry keeps the odd terms only (odd powers of ``u``, the log
term, the fourth-derivative and de Gennes terms, all odd) and drops the even
powers, which could only describe an asymmetric blend.

Both models of the project are in this library exactly: the phi^4 model
(:class:`~scattermorph.sim.free_energy.Landau`) is
``d_t phi = lap(-u + 4 u^3) - kappa lap^2 phi`` and the blend is
``d_t phi = lap(ln(phi/(1-phi)) / N - 2 chi u) - 2 lap(psi' lap psi)``
(:func:`true_coefficients`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scattermorph.errors import ParameterError

__all__ = ["Term", "conservative_library", "true_coefficients", "chemical_potential",
           "STRONG_TERMS"]


@dataclass(frozen=True)
class Term:
    """One candidate term.

    Attributes
    ----------
    name : str
        How the term is printed, e.g. ``"lap(u^3)"``.
    kind : {"lap", "bilap", "degennes"}
        ``lap``: ``lap g(phi)``; ``bilap``: ``lap^2 phi``; ``degennes``:
        ``lap(psi' lap psi)``.
    power : int
        ``p`` of ``g = u^p`` (0 for the other terms).
    log : bool
        ``g = ln(phi / (1 - phi))``.
    """

    name: str
    kind: str
    power: int = 0
    log: bool = False

    def g(self, phi):
        """The pointwise function under the outer Laplacian (``lap`` terms)."""
        phi = np.asarray(phi, dtype=float)
        if self.log:
            return np.log(phi) - np.log1p(-phi)
        u = phi - 0.5
        out = np.ones_like(u) if self.power == 0 else u.copy()
        for _ in range(self.power - 1):  # products: numpy's pow for odd integer powers is several times slower
            out *= u
        return out

    @property
    def odd(self) -> bool:
        """Whether the term changes sign under ``phi -> 1 - phi``."""
        return self.log or self.kind != "lap" or self.power % 2 == 1


def conservative_library(*, degree: int = 5, log: bool = False, bilap: bool = True,
                         degennes: bool = False, symmetric: bool = True) -> tuple[Term, ...]:
    """The conservative library.

    Parameters
    ----------
    degree : int
        Highest power ``p`` of ``lap(u^p)``, >= 1.
    log : bool
        Include ``lap(ln(phi / (1 - phi)))`` (needs ``0 < phi < 1`` everywhere).
    bilap : bool
        Include ``lap^2 phi``.
    degennes : bool
        Include the de Gennes term ``lap(psi' lap psi)`` (needs ``0 < phi < 1``).
    symmetric : bool
        Keep only the terms odd under ``phi -> 1 - phi`` (module docstring).

    Returns
    -------
    tuple of Term
    """
    if int(degree) != degree or degree < 1:
        raise ParameterError(f"library degree={degree!r} must be an integer >= 1")
    terms = [Term(f"lap(u^{p})" if p > 1 else "lap(u)", "lap", power=p)
             for p in range(1, int(degree) + 1)]
    if log:
        terms.append(Term("lap(log(phi/(1-phi)))", "lap", log=True))
    if bilap:
        terms.append(Term("lap^2(phi)", "bilap"))
    if degennes:
        terms.append(Term("lap(psi' lap psi)", "degennes"))
    if symmetric:
        terms = [t for t in terms if t.odd]
    return tuple(terms)


def true_coefficients(model, terms) -> np.ndarray:
    """Coefficients of the project's free energy ``model`` in ``terms``.

    Raises
    ------
    ParameterError
        If the model is not exactly in the library (e.g. the blend without
        the log term).
    """
    want = {}
    if model.name == "landau":
        want = {("lap", 1, False): -1.0, ("lap", 3, False): 4.0, ("bilap", 0, False): -model.kappa}
    else:
        want = {("lap", 0, True): 1.0 / model.N, ("lap", 1, False): -2.0 * model.chi}
        if model.gradient == "de_gennes":
            want[("degennes", 0, False)] = -2.0
        else:
            want[("bilap", 0, False)] = -2.0 * model.kappa0
    keys = [(t.kind, t.power, t.log) for t in terms]
    missing = [k for k in want if k not in keys]
    if missing:
        raise ParameterError(
            f"the {model.name} model is not in this library: it lacks the terms {missing}; "
            "widen the library (log=True for the blend, degennes=True for its gradient term)"
        )
    return np.array([want.get(k, 0.0) for k in keys])


def chemical_potential(terms, coef, phi):
    """Bulk chemical potential ``sum_j c_j g_j(phi)`` of the ``lap`` terms.

    The fourth-derivative and de Gennes terms are gradient terms and do not
    enter ``mu`` of a uniform state; ``mu`` is defined up to a constant (a
    constant has no Laplacian), so compare its derivative or differences.
    """
    phi = np.asarray(phi, dtype=float)
    out = np.zeros_like(phi)
    for t, c in zip(terms, coef):
        if t.kind == "lap" and c != 0:
            out = out + c * t.g(phi)
    return out


#: the unconstrained library of plain (strong-form) SINDy: products of powers
#: of phi with the derivatives a finite-difference stencil gives, not in
#: conservative form (names as printed; see :mod:`scattermorph.dynamics.strong`)
STRONG_TERMS = ("1", "phi", "phi^2", "phi^3", "lap(phi)", "phi lap(phi)", "phi^2 lap(phi)",
                "|grad phi|^2", "phi |grad phi|^2", "lap^2(phi)")
