import pytest

from sseflow.funnel.config import FunnelConfigError, funnel_from_dict, load_funnel
from sseflow.funnel.maker import ScreeningFunnelMaker
from tests.conftest import REPO


def test_shipped_config_equals_the_code_defaults():
    from_file = load_funnel(REPO / "config" / "funnel.yaml")
    default = ScreeningFunnelMaker()
    assert (
        from_file.stages[0].makers[0].tier_settings() == default.stages[0].makers[0].tier_settings()
    )
    assert from_file.stages[0].gate == default.stages[0].gate
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


def _stage(maker: dict, gate: dict | None = None) -> dict:
    return {"stages": [{"makers": [maker], **({"gate": gate} if gate else {})}]}


BVSE = {"class": "sseflow.bvse.BVSEMaker"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (_stage({"class": "os.system", "settings": {"command": "x"}}), "not a tier Maker"),
        (_stage(BVSE, {"class": "os.system"}), "not a gate class"),
        (_stage({"class": "pathlib.Path"}), "not a tier Maker"),
        (
            _stage(
                BVSE,
                {
                    "class": "sseflow.funnel.gates.ThresholdGate",
                    "settings": {"tier": "bvse", "field": "ea_1d_evv"},
                },
            ),
            "BVSEDocument does not have|did you mean ea_1d_ev",
        ),
        (
            _stage(
                BVSE,
                {
                    "class": "sseflow.funnel.gates.RankGate",
                    "settings": {"tier": "neb_mlip", "field": "barrier_forward_ev", "top_n": 2},
                },
            ),
            "reads tier 'neb_mlip', but this stage runs bvse",
        ),
        (_stage(BVSE) | {"ingest": {"max_atoms": -3}}, "ingest settings out of range"),
    ],
)
def test_config_is_validated_before_anything_runs(config, message):
    with pytest.raises(FunnelConfigError) as info:
        funnel_from_dict(config)
    assert all(part in str(info.value) for part in message.split("|")), str(info.value)


def test_a_callable_in_the_config_is_never_called(tmp_path):
    marker = tmp_path / "ran"
    config = _stage({"class": "subprocess.Popen", "settings": {"args": ["touch", str(marker)]}})
    with pytest.raises(FunnelConfigError, match="not a tier Maker"):
        funnel_from_dict(config)
    assert not marker.exists()


def test_python_funnels_are_checked_too():
    from sseflow.bvse.jobs import BVSEMaker
    from sseflow.funnel.config import validate_funnel
    from sseflow.funnel.gates.threshold import ThresholdGate
    from sseflow.funnel.maker import Stage

    funnel = ScreeningFunnelMaker(stages=[Stage([BVSEMaker()], ThresholdGate("bvse", "ea_2d"))])
    with pytest.raises(FunnelConfigError, match=r"stages\[0\]\.gate: the gate reads bvse\.ea_2d"):
        validate_funnel(funnel)
    validate_funnel(ScreeningFunnelMaker())  # the default funnel is valid
