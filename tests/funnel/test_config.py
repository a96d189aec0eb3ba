import pytest

from sseflow.funnel.config import FunnelConfigError, funnel_from_dict, load_funnel
from sseflow.funnel.maker import ScreeningFunnelMaker
from tests.conftest import REPO


def test_shipped_config_equals_the_code_defaults():
    from_file = load_funnel(REPO / "config" / "funnel.yaml")
    default = ScreeningFunnelMaker()
    assert [s.tiers for s in from_file.stages] == [s.tiers for s in default.stages]
    for in_file, in_code in zip(from_file.stages, default.stages, strict=True):
        for a, b in zip(in_file.makers, in_code.makers, strict=True):
            assert type(a) is type(b) and a.tier_settings() == b.tier_settings()
        assert in_file.gate == in_code.gate
    assert from_file.ingest_settings == default.ingest_settings


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "non-empty list"),
        ({"stages": [{"makers": []}]}, "non-empty 'makers'"),
        (
            {
                "stages": [
                    {"makers": [{"class": "sseflow.bvse.jobs.BVSEMaker", "settings": {"bogus": 1}}]}
                ]
            },
            "bad settings",
        ),
        (
            {
                "stages": [{"makers": [{"class": "sseflow.bvse.jobs.BVSEMaker"}]}],
                "ingest": {"nope": 1},
            },
            "ingest",
        ),
    ],
)
def test_malformed_configs_say_where(config, message):
    with pytest.raises(FunnelConfigError, match=message):
        funnel_from_dict(config)
