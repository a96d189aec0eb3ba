"""The default funnel: what ``sseflow screen`` runs without ``--config``.

=====  ==================================  =============================================
stage  tiers                               gate: who goes on
=====  ==================================  =============================================
1      ``soap_clustering`` + ``atomsets``  :class:`~sseflow.funnel.gates.MLPolicyGate`
       (SOAP selection, P_SI)              (its default policy: P_SI >= 0.2)
2      ``bvse``                            E_1D <= 0.6 eV, then the ``neb_top_n`` (10)
                                           lowest barriers (:class:`RankGate`)
3      ``neb_mlip`` (CI-NEB, universal     barrier <= 0.6 eV, then the ``dft_top_k`` (3)
       potential)                          lowest barriers
4      ``neb_dft`` (CI-NEB, Quantum        barrier <= 0.5 eV (thesis: "favourable
       ESPRESSO, thesis A.4 settings)      activation energies (< 500 meV)")
=====  ==================================  =============================================

Stage 4 runs when Quantum ESPRESSO is configured (pw.x found, a pseudopotential folder
given: ``SSEFLOW_QE_PSEUDO_DIR`` / ``--qe-pseudo-dir``); otherwise its candidates are
recorded ``pending`` with the command that runs it later (:mod:`sseflow.funnel.qe_setup`).
``config/funnel.yaml`` is this funnel written out (a test keeps them equal).

Each tier's Maker is chosen in one function below (:func:`ml_stage`,
:func:`bvse_maker`, :func:`mlip_maker`, :data:`MLIP_BARRIER_FIELD`, :func:`dft_maker`),
so adopting a tier's new default is a one-line change here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sseflow.funnel.gates import MLPolicyGate, RankGate, ThresholdGate

if TYPE_CHECKING:
    from sseflow.common.maker import TierMaker
    from sseflow.funnel.maker import Stage

#: MLIP CI-NEB runs on this many of the lowest BVSE barriers (``--neb-top``).
DEFAULT_NEB_TOP_N = 10
#: Quantum ESPRESSO CI-NEB runs on this many of the lowest MLIP barriers (``--dft-top``).
DEFAULT_DFT_TOP_K = 3
#: Highest BVSE percolation barrier that passes (thesis: "a conservative 0.6 eV"), eV.
DEFAULT_MAX_EA_EV = 0.6
#: Highest MLIP barrier sent on to DFT, eV (the BVSE criterion: universal potentials
#: under-predict barriers, docs/neb.md, so this is no stricter than BVSE).
DEFAULT_MLIP_MAX_BARRIER_EV = 0.6
#: Highest DFT barrier that passes, eV (thesis ch. 2: "favourable activation energies
#: (< 500 meV)"; its ten CI-NEB barriers were 0.26-0.47 eV).
DEFAULT_DFT_MAX_BARRIER_EV = 0.5
#: Field of the MLIP tier's document the funnel ranks on.
MLIP_BARRIER_FIELD = "barrier_forward_ev"

#: Short names of the default funnel's stages (``--until``, ``--skip``) -> their tiers.
STAGE_NAMES: dict[str, tuple[str, ...]] = {
    "ml": ("soap_clustering", "atomsets"),
    "bvse": ("bvse",),
    "mlip": ("neb_mlip",),
    "dft": ("neb_dft",),
}


def ml_stage(gate: Any = None, soap_selection: bool = True) -> Stage:
    """Return the ML screening stage: the shipped P_SI model, gated by ``MLPolicyGate()``.

    The gate's defaults (``p_si_only``, P_SI >= 0.2, no band-gap test) were chosen from
    out-of-fold numbers of the shipped model's recipe (docs/atomsets.md): they keep 90 %
    of the superionic training structures. Band gaps are predicted only when the gate
    tests them (1.7 structures/s against ~200 for P_SI alone).

    Parameters
    ----------
    gate
        An :class:`~sseflow.funnel.gates.MLPolicyGate`; its defaults when None.
    soap_selection
        Run the SOAP clustering tier too, to record each candidate's selection (shown
        in the shortlist) even when the gate's policy does not use it; it always runs
        when the policy uses it.

    Examples
    --------
    >>> stage = ml_stage()
    >>> stage.tiers, stage.makers[1].shipped_model, stage.gate.policy
    (['soap_clustering', 'atomsets'], 'psi_v3', 'p_si_only')
    >>> ml_stage(soap_selection=False).tiers
    ['atomsets']
    """
    from sseflow.funnel.maker import Stage
    from sseflow.ml.atomsets.jobs import AtomSetsMaker, BandGapMode

    gate = MLPolicyGate() if gate is None else gate
    gap_mode: BandGapMode = "off" if gate.band_gap_min_ev is None else "predict"
    makers: list[TierMaker] = [AtomSetsMaker(band_gap_mode=gap_mode)]
    if soap_selection or gate.policy != "p_si_only":
        from sseflow.ml.soap.jobs import SOAPClusteringMaker

        makers.insert(0, SOAPClusteringMaker())
    return Stage(makers=makers, gate=gate)


def bvse_maker() -> TierMaker:
    """Return the BVSE Maker (its default engine and settings)."""
    from sseflow.bvse.jobs import BVSEMaker

    return BVSEMaker()


def mlip_maker() -> TierMaker:
    """Return the MLIP CI-NEB Maker (its default potential and settings)."""
    from sseflow.neb.jobs import MLIPNEBMaker

    # SevenNet-l3i5 (DEFAULT_POTENTIAL): the shipped potential closest to Quantum
    # ESPRESSO on the benchmark's six hops, raw and calibrated (docs/neb.md)
    return MLIPNEBMaker()


def dft_maker(qe: Any = None) -> TierMaker:
    """Return the Quantum ESPRESSO CI-NEB Maker: every setting of thesis appendix A.4.

    Parameters
    ----------
    qe
        Machine settings (:class:`~sseflow.qe.calculator.QESettings` or a mapping);
        None leaves pw.x and the pseudopotential folder to be filled from
        :class:`~sseflow.settings.SseflowSettings` when the funnel is built.
    """
    from sseflow.qe.calculator import QESettings
    from sseflow.qe.jobs import QENEBMaker

    return QENEBMaker.thesis(qe=qe if qe is not None else QESettings())


def bvse_rank_gate(
    top_n: int = DEFAULT_NEB_TOP_N, max_ea_ev: float = DEFAULT_MAX_EA_EV, dimension: str = "1D"
) -> RankGate:
    """Return the BVSE stage's gate: E_a <= ``max_ea_ev``, then the ``top_n`` lowest."""
    return RankGate(
        tier="bvse",
        field=f"ea_{dimension.lower()}_ev",
        top_n=top_n,
        max_value=max_ea_ev,
        unit="eV",
    )


def mlip_rank_gate(
    top_k: int = DEFAULT_DFT_TOP_K, max_barrier_ev: float | None = DEFAULT_MLIP_MAX_BARRIER_EV
) -> RankGate:
    """Return the MLIP stage's gate: barrier <= ``max_barrier_ev``, then the ``top_k`` lowest."""
    return RankGate(
        tier="neb_mlip",
        field=MLIP_BARRIER_FIELD,
        top_n=top_k,
        max_value=max_barrier_ev,
        unit="eV",
    )


def dft_gate(max_barrier_ev: float = DEFAULT_DFT_MAX_BARRIER_EV) -> ThresholdGate:
    """Return the DFT stage's gate: barrier <= ``max_barrier_ev``."""
    return ThresholdGate(
        tier="neb_dft", field="barrier_forward_ev", max_value=max_barrier_ev, unit="eV"
    )


def default_stages(
    neb_top_n: int = DEFAULT_NEB_TOP_N, dft_top_k: int = DEFAULT_DFT_TOP_K
) -> list[Stage]:
    """Return the four stages of the default funnel (see the module docstring).

    Parameters
    ----------
    neb_top_n
        MLIP CI-NEB runs on this many of the lowest BVSE barriers.
    dft_top_k
        Quantum ESPRESSO CI-NEB runs on this many of the lowest MLIP barriers.

    Examples
    --------
    >>> [stage.tiers for stage in default_stages()]
    [['soap_clustering', 'atomsets'], ['bvse'], ['neb_mlip'], ['neb_dft']]
    """
    from sseflow.funnel.maker import Stage

    return [
        ml_stage(),
        Stage(makers=[bvse_maker()], gate=bvse_rank_gate(neb_top_n)),
        Stage(makers=[mlip_maker()], gate=mlip_rank_gate(dft_top_k)),
        Stage(makers=[dft_maker()], gate=dft_gate()),
    ]
