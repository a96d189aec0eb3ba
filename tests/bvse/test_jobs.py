"""The BVSE Maker: the engine setting, its hash, and Makers serialised before it."""

from sseflow.bvse.jobs import BVSEMaker
from sseflow.bvse.settings import BVSESettings
from sseflow.funnel.config import funnel_from_dict


def test_engine_enters_the_hash_only_when_not_bvlain():
    native, bvlain = BVSEMaker(), BVSEMaker(engine="bvlain")
    assert native.bvse.engine == "native" and bvlain.bvse == BVSESettings(engine="bvlain")
    assert native.tier_settings()["engine"] == "native"
    assert "engine" not in bvlain.tier_settings()  # as results stored before it existed
    assert native.tier_settings_hash() != bvlain.tier_settings_hash()


def test_maker_serialised_without_engine_keeps_running_bvlain():
    flat = BVSEMaker(resolution_angstrom=0.3).as_dict()
    nested = dict(flat)
    flat.pop("bvse")
    flat["resolution_angstrom"] = 0.3  # the layout before settings objects (0.1)
    nested["bvse"] = {k: v for k, v in nested["bvse"].items() if k != "engine"}
    for stored in (flat, nested):
        maker = BVSEMaker.from_dict(stored)
        assert maker.bvse.engine == "bvlain" and maker.bvse.resolution_angstrom == 0.3
    assert BVSEMaker.from_dict(BVSEMaker().as_dict()).bvse.engine == "native"


def test_funnel_yaml_without_engine_gets_the_native_engine():
    funnel = funnel_from_dict(
        {
            "stages": [
                {
                    "makers": [
                        {
                            "class": "sseflow.bvse.BVSEMaker",
                            "settings": {"bvse": {"k_neighbors": 80}},
                        }
                    ],
                    "gate": {
                        "class": "sseflow.funnel.gates.ThresholdGate",
                        "settings": {"tier": "bvse", "field": "ea_1d_ev", "max_value": 0.6},
                    },
                }
            ]
        }
    )
    (maker,) = funnel.stages[0].makers
    assert maker.bvse.engine == "native" and maker.bvse.k_neighbors == 80
