"""Native and bvlain engines agree on small OBELiX training structures.

The full comparison over all 254 training structures is a benchmark
(benchmarks/bvse_engines.py, results in docs/bvse.md); these are a handful of small
cells covering ordered and disordered frameworks, 1D/2D/3D percolation and a window
without percolation.
"""

import pytest

from sseflow.bvse.engine import bvse_barriers
from sseflow.bvse.framework import prepare_bvse_framework
from sseflow.bvse.settings import BVSESettings
from sseflow.ingest.batch import ingest
from tests.conftest import OBELIX_CIFS

CASES = {
    "gvd": "Li3N, ordered: 3D network",
    "3rx": "LiNdTiO4, ordered: 2D layers, no 3D percolation",
    "2t8": "LiVPO4F, disordered: E_1D < E_2D < E_3D",
    "gas": "Li0.31La0.63Ti0.9Co0.1O3, disordered perovskite, cations on grid points",
    "tka": "LiSi2N3, ordered nitride: 1D only below 3 eV",
}


@pytest.mark.parametrize("obelix_id", list(CASES), ids=list(CASES))
def test_engines_agree_within_bvlains_bisection_step(obelix_id):
    candidate = ingest([OBELIX_CIFS / f"{obelix_id}.cif"]).accepted[0]
    framework = prepare_bvse_framework(candidate.structure, "weighted")
    encut = 3.0 if obelix_id == "tka" else 5.0
    native = bvse_barriers(framework, BVSESettings(encut_ev=encut))
    bvlain = bvse_barriers(framework, BVSESettings(encut_ev=encut, engine="bvlain"))
    pairs = [
        (native.ea_1d_ev, bvlain.ea_1d_ev),
        (native.ea_2d_ev, bvlain.ea_2d_ev),
        (native.ea_3d_ev, bvlain.ea_3d_ev),
    ]
    for ours, theirs in pairs:
        assert (ours is None) == (theirs is None)
        if ours is not None:
            # bvlain's answer is the top of its last 0.01 eV bisection interval
            assert 0 <= theirs - ours <= 0.01
    assert native.energies_ev.shape == bvlain.energies_ev.shape
    if obelix_id == "3rx":
        assert native.ea_2d_ev is not None and native.ea_3d_ev is None
    if obelix_id == "tka":
        assert native.ea_1d_ev is not None and native.ea_2d_ev is None
    if obelix_id == "2t8":
        assert native.ea_1d_ev < native.ea_2d_ev < native.ea_3d_ev
