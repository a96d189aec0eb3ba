"""Options and funnel files combine predictably: an option changes the funnel or is refused."""

import pytest
from typer.testing import CliRunner

from sseflow.bvse.jobs import BVSEMaker
from sseflow.cli import app
from sseflow.funnel.config import load_funnel
from sseflow.funnel.defaults import default_stages
from sseflow.funnel.gates import RankGate, ThresholdGate, bvse_gate
from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
from sseflow.funnel.options import FunnelOptionError, FunnelOptions, apply_options
from sseflow.qe.jobs import QENEBMaker
from tests.conftest import EXAMPLES, REPO

DEFAULT_YAML = REPO / "config" / "funnel.yaml"


def test_until_and_skip_choose_the_stages():
    funnel = ScreeningFunnelMaker()
    ml_bvse = apply_options(funnel, FunnelOptions(until="bvse"))
    assert [s.tiers for s in ml_bvse.stages] == [["soap_clustering", "atomsets"], ["bvse"]]
    # a rank gate only limits the next stage's cost: with none left, its bounds remain
    assert ml_bvse.stages[-1].gate == ThresholdGate("bvse", "ea_1d_ev", max_value=0.6, unit="eV")
    bvse_only = apply_options(funnel, FunnelOptions(skip=("ml",), until="bvse"))
    assert [s.tiers for s in bvse_only.stages] == [["bvse"]]
    assert bvse_only.stages[0].gate == bvse_gate(0.6, "1D")  # the funnel sseflow ran before
    to_mlip = apply_options(funnel, FunnelOptions(until="neb_mlip"))
    assert to_mlip.stages[-1].tiers == ["neb_mlip"]
    assert funnel.stages == ScreeningFunnelMaker().stages  # the input is not modified


def test_options_override_the_yaml_values():
    from_file = load_funnel(DEFAULT_YAML)
    changed = apply_options(
        from_file,
        FunnelOptions(
            max_ea_ev=0.5,
            dimension="2D",
            resolution_angstrom=0.3,
            neb_top_n=4,
            mlip_walltime_s=300,
            mlip_orderings=3,
            dft_top_k=2,
            ml_policy="all",
            max_atoms=200,
            qe_pseudo_dir="/pseudo",
            qe_mpi_command="srun",
        ),
        "the funnel in funnel.yaml",
    )
    ml, bvse, mlip, dft = changed.stages
    assert ml.gate.policy == "all"
    assert bvse.makers[0].dimension == "2D" and bvse.makers[0].bvse.resolution_angstrom == 0.3
    assert bvse.gate == RankGate("bvse", "ea_2d_ev", top_n=4, max_value=0.5, unit="eV")
    assert mlip.gate.top_n == 2 and mlip.makers[0].neb.walltime_s == 300
    assert mlip.makers[0].ordering_samples == 3
    assert all(getattr(m, "ordering_samples", 1) == 1 for m in dft.makers)  # MLIP stage only
    assert dft.makers[0].qe.pseudo_dir == "/pseudo" and dft.makers[0].qe.mpi_command == "srun"
    assert dft.makers[0].relax_bulk and dft.makers[0].convergence_test  # YAML values kept
    assert changed.ingest_settings.max_atoms == 200


def test_a_threshold_gate_asked_for_a_top_n_becomes_a_rank_gate():
    funnel = ScreeningFunnelMaker(
        stages=[Stage([BVSEMaker()], bvse_gate(0.6, "1D")), default_stages()[2]]
    )
    ranked = apply_options(funnel, FunnelOptions(neb_top_n=3))
    assert ranked.stages[0].gate == RankGate("bvse", "ea_1d_ev", 3, max_value=0.6, unit="eV")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (FunnelOptions(until="bvse", neb_top_n=3), "has no neb_mlip stage"),
        (FunnelOptions(until="bvse", mlip_walltime_s=60), "has no neb_mlip stage"),
        (FunnelOptions(until="bvse", mlip_orderings=3), "has no neb_mlip stage"),
        (FunnelOptions(mlip_orderings=0), "ordering_samples must be an integer >= 1"),
        (FunnelOptions(until="mlip", qe_pseudo_dir="/x"), "has no Quantum ESPRESSO stage"),
        (FunnelOptions(skip=("ml",), ml_policy="all"), "has no ML stage"),
        (FunnelOptions(until="nowhere"), "unknown stage 'nowhere'"),
        (FunnelOptions(dimension="4D"), "use 1D, 2D or 3D"),
        (FunnelOptions(neb_top_n=0), "top_n must be a positive integer"),
        (FunnelOptions(ml_policy="most"), "policy must be"),
    ],
)
def test_options_without_a_target_are_refused(options, message):
    with pytest.raises(FunnelOptionError, match=message):
        apply_options(ScreeningFunnelMaker(), options, "the default funnel")


def test_cli_refuses_an_option_the_funnel_has_no_use_for(tmp_path):
    bvse_yaml = tmp_path / "bvse.yaml"
    bvse_yaml.write_text(
        "stages:\n  - makers: [{class: sseflow.bvse.BVSEMaker}]\n"
        "    gate: {class: sseflow.funnel.gates.ThresholdGate,"
        " settings: {tier: bvse, field: ea_1d_ev, max_value: 0.6, unit: eV}}\n"
    )
    li2s = str(EXAMPLES / "Li2S_antifluorite.cif")
    data = str(tmp_path / "db")
    result = CliRunner().invoke(
        app, ["screen", li2s, "--config", str(bvse_yaml), "--dft-top", "2", "--data-dir", data]
    )
    text = " ".join(result.output.split())
    assert result.exit_code == 2
    assert f"--dft-top: the funnel in {bvse_yaml} has no neb_dft stage" in text
    result = CliRunner().invoke(app, ["screen", li2s, "--until", "bvse", "--neb-top", "3"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "--neb-top" in text and "--until bvse" in text
    assert not (tmp_path / "db").exists()  # refused before any work


def test_qe_settings_option_over_file_over_environment(tmp_path):
    from sseflow.funnel.deferred import DeferredTierMaker
    from sseflow.funnel.qe_setup import configure_qe_stages
    from sseflow.qe.calculator import QESettings
    from sseflow.settings import SseflowSettings

    pseudo = str(REPO / "tests" / "data" / "pseudo")
    env = SseflowSettings(qe_pseudo_dir=pseudo, qe_mpi_command="mpirun -np 2")
    (from_env,) = configure_qe_stages([default_stages()[3]], "sseflow resume", env)
    assert isinstance(from_env.makers[0], QENEBMaker)
    assert from_env.makers[0].qe.pseudo_dir == pseudo
    assert from_env.makers[0].qe.mpi_command == "mpirun -np 2"
    in_file = Stage([QENEBMaker(qe=QESettings(pseudo_dir=str(tmp_path / "mine")))])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "Li.upf").write_text("")
    (kept,) = configure_qe_stages([in_file], "sseflow resume", env)
    assert kept.makers[0].qe.pseudo_dir == str(tmp_path / "mine")  # the file wins
    option = apply_options(
        ScreeningFunnelMaker(stages=[in_file]), FunnelOptions(qe_pseudo_dir=pseudo)
    )
    assert option.stages[0].makers[0].qe.pseudo_dir == pseudo  # the option wins over the file
    # nothing set: the stage waits, and says how to run it
    (waits,) = configure_qe_stages([default_stages()[3]], "sseflow resume X", SseflowSettings())
    maker = waits.makers[0]
    assert isinstance(maker, DeferredTierMaker) and maker.tier == "neb_dft"
    assert maker.resume_command == "sseflow resume X --qe-pseudo-dir PSEUDO_DIR"
    bad_pw = SseflowSettings(qe_pseudo_dir=pseudo, qe_pw_command="no-such-pw.x")
    (waits,) = configure_qe_stages([default_stages()[3]], "sseflow resume", bad_pw)
    assert "no-such-pw.x" in waits.makers[0].reason
    assert waits.makers[0].resume_command == "sseflow resume --qe-pw-command PW_X"
