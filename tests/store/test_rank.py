"""The funnel rank: deepest tier passed, then DFT, MLIP, BVSE barrier, then P_SI."""

from sseflow.store.rank import rank_records


def rec(cid, **tiers):
    return {"candidate_id": cid, "formula": cid, "tiers": {"ingest": {"status": "passed"}, **tiers}}


def passed(**numbers):
    return {"status": "passed", **numbers}


def rejected(**numbers):
    return {"status": "rejected", **numbers}


def test_deepest_tier_first_then_most_faithful_barrier_then_p_si():
    ml = {"atomsets": passed(p_si=0.9), "soap_clustering": passed(selected=True)}
    records = [
        rec("bvse-only", **ml, bvse=passed(ea_ev=0.10)),
        rec(
            "dft-high",
            **ml,
            bvse=passed(ea_ev=0.5),
            neb_mlip=passed(barrier_forward_ev=0.1),
            neb_dft=passed(barrier_forward_ev=0.45),
        ),
        rec(
            "dft-low",
            **ml,
            bvse=passed(ea_ev=0.5),
            neb_mlip=passed(barrier_forward_ev=0.4),
            neb_dft=passed(barrier_forward_ev=0.30),
        ),
        rec(
            "mlip-pending",
            **ml,
            bvse=passed(ea_ev=0.2),
            neb_mlip=passed(barrier_forward_ev=0.2),
            neb_dft={"status": "pending", "deferred": True},
        ),
        rec(
            "mlip-rejected", **ml, bvse=passed(ea_ev=0.2), neb_mlip=rejected(barrier_forward_ev=0.7)
        ),
        rec(
            "ml-only-high-psi",
            atomsets=passed(p_si=0.8),
            soap_clustering=passed(selected=False),
            bvse=rejected(ea_ev=0.9),
        ),
        rec(
            "ml-no-barrier",
            atomsets=passed(p_si=0.95),
            soap_clustering=passed(),
            bvse={"status": "failed"},
        ),
        rec(
            "ml-no-barrier-low",
            atomsets=passed(p_si=0.55),
            soap_clustering=passed(),
            bvse={"status": "failed"},
        ),
        {"candidate_id": "file-x", "tiers": {"ingest": {"status": "rejected"}}},
    ]
    order = [r.candidate_id for r in rank_records(records)]
    assert order == [
        "dft-low",  # passed DFT, 0.30 eV
        "dft-high",  # passed DFT, 0.45 eV (its lower MLIP barrier does not count)
        "mlip-pending",  # deepest passed: neb_mlip
        "bvse-only",  # deepest passed: bvse, 0.10 eV
        "mlip-rejected",  # deepest passed: bvse; its most faithful barrier: MLIP 0.7 eV
        "ml-only-high-psi",  # deepest passed: ML, BVSE 0.9 eV
        "ml-no-barrier",  # no barrier: P_SI 0.95 before 0.55
        "ml-no-barrier-low",
        "file-x",  # never passed ingest: not ranked
    ]
    ranked = rank_records(records)
    assert [r.rank for r in ranked] == [1, 2, 3, 4, 5, 6, 7, 8, None]
    assert ranked[0].barrier_source == "neb_dft" and ranked[4].barrier_source == "neb_mlip"
    assert ranked[3].soap_selected is True and ranked[5].soap_selected is False


def test_numbers_of_a_failed_tier_do_not_count():
    ml = {"atomsets": passed(p_si=0.5)}
    stopped = {"status": "failed", "barrier_forward_ev": 0.05}  # walltime: last band's max
    records = [
        rec("stopped", **ml, bvse=passed(ea_ev=0.3), neb_mlip=stopped),
        rec("bvse", **ml, bvse=passed(ea_ev=0.2), neb_mlip=passed(barrier_forward_ev=0.4)),
    ]
    ranked = rank_records(records)
    assert [r.candidate_id for r in ranked] == ["bvse", "stopped"]
    assert ranked[1].neb_mlip_barrier_ev is None and ranked[1].barrier_source == "bvse"


def test_a_calibrated_mlip_barrier_is_preferred_when_recorded():
    ml = {"atomsets": passed(p_si=0.5)}
    records = [
        rec("a", **ml, neb_mlip=passed(barrier_forward_ev=0.10, barrier_calibrated_ev=0.40)),
        rec("b", **ml, neb_mlip=passed(barrier_forward_ev=0.30)),
    ]
    assert [r.candidate_id for r in rank_records(records)] == ["b", "a"]
