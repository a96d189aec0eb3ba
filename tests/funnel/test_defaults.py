"""The default funnel and the thesis funnel file."""

from sseflow.bvse.jobs import BVSEMaker
from sseflow.funnel.config import load_funnel
from sseflow.funnel.defaults import DEFAULT_NEB_TOP_N, default_stages
from sseflow.funnel.gates import MLPolicyGate, PassAllGate, RankGate, ThresholdGate
from sseflow.ml.atomsets.jobs import AtomSetsMaker
from sseflow.ml.soap.jobs import SOAPClusteringMaker
from sseflow.neb.jobs import MLIPNEBMaker
from sseflow.qe.calculator import QESettings
from sseflow.qe.jobs import QENEBMaker
from tests.conftest import REPO


def test_default_stages():
    ml, bvse, mlip, dft = default_stages()
    assert [type(m) for m in ml.makers] == [SOAPClusteringMaker, AtomSetsMaker]
    assert isinstance(ml.gate, MLPolicyGate)
    assert isinstance(bvse.makers[0], BVSEMaker)
    assert bvse.gate == RankGate(
        "bvse", "ea_1d_ev", top_n=DEFAULT_NEB_TOP_N, max_value=0.6, unit="eV"
    )
    assert type(mlip.makers[0]) is MLIPNEBMaker and mlip.makers[0].potential == "SevenNet-l3i5"
    assert mlip.gate.tier == "neb_mlip" and mlip.gate.top_n == 3
    thesis = QENEBMaker.thesis(qe=QESettings())
    assert dft.makers[0].tier_settings() == thesis.tier_settings()
    assert dft.gate == ThresholdGate("neb_dft", "barrier_forward_ev", max_value=0.5, unit="eV")
    assert default_stages(neb_top_n=2, dft_top_k=1)[1].gate.top_n == 2


def test_thesis_funnel_file_sets_the_thesis_settings():
    ml, bvse, mlip, dft = load_funnel(REPO / "config" / "funnel-thesis.yaml").stages
    soap = ml.makers[0]
    assert soap.depth == 241 and soap.high_sigma_s_per_cm == 1e-5
    assert soap.soap.scheme == "CAN" and (soap.soap.r_cut_angstrom, soap.soap.n_max) == (3.0, 5)
    assert soap.soap.l_max == 3 and soap.soap.second_order == "sine_coulomb"
    assert 2e-6 <= soap.soap.alpha <= 4e-6
    assert ml.gate.band_gap_min_ev == 1.0 and ml.gate.p_si_threshold == 0.5
    assert ml.gate.policy == "any" and soap.rule == "high_or_adjacent"
    assert ml.makers[1].shipped_model == "atomsets_v1_camns"
    assert bvse.makers[0].bvse.time_limit_s == 1200
    assert bvse.gate == RankGate("bvse", "ea_1d_ev", top_n=10, max_value=0.6, unit="eV")
    assert isinstance(mlip.gate, PassAllGate)  # the ten lowest BVSE barriers all get DFT
    thesis = QENEBMaker.thesis(qe=QESettings())
    assert dft.makers[0].tier_settings() == thesis.tier_settings()
    assert dft.gate.max_value == 0.5
