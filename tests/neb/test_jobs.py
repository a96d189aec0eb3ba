"""NEB tier Makers run through jobflow: CHGNet, a real QE CI-NEB, and failures."""

from pathlib import Path

import numpy as np
import pytest
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from sseflow.bvse.landscape import BVSELandscape
from sseflow.common.candidate import Candidate, SourceInfo
from sseflow.common.document import TierStatus
from sseflow.neb.calibration import load_calibration
from sseflow.neb.jobs import DEFAULT_POTENTIAL, CHGNetNEBMaker, MLIPNEBMaker
from sseflow.neb.schemas import NEBDocument
from sseflow.qe.calculator import QESettings
from sseflow.qe.jobs import QENEBMaker

PSEUDO_DIR = Path(__file__).parents[1] / "data" / "pseudo"


def li2s_candidate() -> Candidate:
    structure = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.71), ["S2-", "Li+"], [[0, 0, 0], [0.25, 0.25, 0.25]]
    )
    return Candidate(
        candidate_id="li2s-antifluorite",
        formula="Li2S",
        structure=structure,
        oxidation_states={"Li": 1.0, "S": -2.0},
        source=SourceInfo(path="<memory>", format="structure"),
    )


def run(job) -> NEBDocument:
    responses = run_locally(job, ensure_success=True, log=False)
    return responses[job.uuid][1].output


def test_chgnet_maker_with_given_landscape(tmp_path):
    from sseflow.neb.calibration import CalibrationSet, fit_calibration

    pairs = [{"id": str(i), "mlip_ev": 0.1 * i, "dft_ev": 0.12 * i + 0.05} for i in range(1, 7)]
    fit = fit_calibration("CHGNet", pairs, source="test pairs")
    calibration = CalibrationSet({"CHGNet": fit}, "test set").to_json(tmp_path / "cal.json")
    candidate = li2s_candidate()
    landscape = BVSELandscape.from_structure(candidate.structure, resolution_angstrom=0.3)
    maker = CHGNetNEBMaker(
        min_length_angstrom=5.5, n_images=3, work_dir=str(tmp_path), calibration=str(calibration)
    )
    doc = run(maker.make(candidate, bvse_landscape=landscape.as_dict()))
    assert doc.barrier_calibrated_ev == pytest.approx(1.2 * doc.barrier_forward_ev + 0.05, abs=1e-6)
    assert doc.calibration["source"] == "test pairs" and doc.calibration["n_pairs"] == 6
    assert doc.potential["name"] == "CHGNet" and doc.cross_check == {}
    assert doc.status == TierStatus.PENDING, doc.reason
    assert doc.tier == "neb_mlip"
    assert doc.converged
    assert 0.05 < doc.barrier_forward_ev < 1.0
    hop = doc.hops[0]
    assert len(hop.images) == 5
    assert hop.climbing_image_index == int(np.argmax(hop.energies_ev))
    assert hop.relative_energies_ev[0] == 0.0
    assert doc.supercell["min_image_distance_angstrom"] >= 5.5
    assert doc.bvse_hop_barrier_ev == hop.hop["bvse_barrier_ev"] > 0
    assert doc.was_ordered is False
    assert doc.calculator.startswith("CHGNet")
    assert doc.settings["n_images"] == 3
    assert doc.bvse_landscape_source == "given (make argument)"
    assert doc.qe_version is None
    assert Path(hop.work_dir, "neb_images.traj").exists()
    # the document round-trips through JSON as stored by jobflow
    again = NEBDocument.model_validate_json(doc.model_dump_json())
    assert again.hops[0].images[2].composition["Li"] == 7


@pytest.mark.slow
def test_qe_ci_neb_li2s_charged_vacancy(tmp_path):
    """Real pw.x CI-NEB: 11-atom Li2S cell, charged vacancy, Gamma, 25 Ry NC (~6 min)."""
    maker = QENEBMaker(
        min_length_angstrom=5.5,
        n_images=3,
        endpoint_fmax_ev_per_angstrom=0.05,
        qe=QESettings(pseudo_dir=str(PSEUDO_DIR), ecutwfc_ry=25.0),
        work_dir=str(tmp_path),
    )
    doc = run(maker.make(li2s_candidate()))
    assert doc.status == TierStatus.PENDING, doc.reason
    assert doc.converged
    assert doc.vacancy_charge_e == -1.0
    assert set(doc.pseudopotentials) == {"Li", "S"}
    hop = doc.hops[0]
    assert hop.max_force_ev_per_angstrom < 0.05
    # QE with PAW at 30/240 Ry gave 0.33 eV for this cell (STACK.md)
    assert 0.15 < doc.barrier_forward_ev < 0.6
    assert hop.climbing_image_index == int(np.argmax(hop.energies_ev))
    pw_input = (Path(hop.work_dir) / "image_02" / "espresso.pwi").read_text()
    assert "tot_charge" in pw_input and "-1" in pw_input.split("tot_charge")[1].splitlines()[0]
    header = (Path(hop.work_dir) / "image_02" / "espresso.pwo").read_text()[:500]
    assert f"Program PWSCF v.{doc.qe_version} starts" in header
    assert doc.software["quantum-espresso"] == doc.qe_version
    assert doc.calculator == f"Quantum ESPRESSO pw.x {doc.qe_version} (ASE Espresso)"


def test_qe_missing_executable_fails_cleanly(tmp_path):
    maker = QENEBMaker(
        min_length_angstrom=5.5,
        qe=QESettings(pw_command="pw.x-does-not-exist", pseudo_dir=str(PSEUDO_DIR)),
        work_dir=str(tmp_path),
    )
    doc = run(maker.make(li2s_candidate()))
    assert doc.status == TierStatus.FAILED
    assert "pw.x-does-not-exist" in doc.reason and "not found" in doc.reason
    assert doc.qe_version == "unknown"  # recorded, never a reason to fail


def test_qe_missing_pseudopotential_fails_cleanly(tmp_path):
    (tmp_path / "pseudo").mkdir()
    (tmp_path / "pseudo" / "Li.upf").write_text("placeholder: only Li present\n")
    maker = QENEBMaker(
        min_length_angstrom=5.5,
        qe=QESettings(pseudo_dir=str(tmp_path / "pseudo")),
        work_dir=str(tmp_path),
    )
    doc = run(maker.make(li2s_candidate()))
    assert doc.status == TierStatus.FAILED
    assert doc.reason.startswith("no pseudopotential for S")


def test_qe_crash_during_run_is_recorded(tmp_path):
    # a pseudopotential file that exists but is not a UPF: pw.x starts and aborts
    bad = tmp_path / "pseudo"
    bad.mkdir()
    for element in ("Li", "S"):
        (bad / f"{element}.upf").write_text("this is not a pseudopotential\n")
    maker = QENEBMaker(
        min_length_angstrom=5.5,
        n_images=3,
        qe=QESettings(pseudo_dir=str(bad), ecutwfc_ry=20.0),
        work_dir=str(tmp_path / "run"),
    )
    doc = run(maker.make(li2s_candidate()))
    assert doc.status == TierStatus.FAILED
    assert "calculator failed" in doc.reason
    assert "endpoint_initial" in doc.reason
    # pw.x printed its header before aborting: the version is read from that output
    output = next((tmp_path / "run").rglob("espresso.pwo")).read_text()
    assert f"Program PWSCF v.{doc.qe_version} starts" in output


def test_unconverged_neb_is_failed_with_reason(tmp_path):
    maker = CHGNetNEBMaker(
        min_length_angstrom=5.5,
        n_images=3,
        max_steps_neb=1,
        max_steps_ci=1,
        work_dir=str(tmp_path),
    )
    doc = run(maker.make(li2s_candidate()))
    assert doc.status == TierStatus.FAILED
    assert "not converged" in doc.reason and "resumes" in doc.reason
    assert doc.hops and doc.barrier_forward_ev is not None  # numbers kept for inspection
    # run alone (jobflow's default memory store): no BVSE record, landscape recomputed
    assert doc.bvse_landscape_source == "recomputed (bvlain, 0.2 A)"
    assert doc.bvse_landscape_note == "candidate has no 'bvse' record"


def test_energy_profile_plot(tmp_path):
    from sseflow.neb.plots import plot_energy_profile, reaction_coordinate

    maker = CHGNetNEBMaker(min_length_angstrom=5.5, n_images=3, work_dir=str(tmp_path))
    doc = run(maker.make(li2s_candidate()))
    hop = doc.hops[0]
    out = plot_energy_profile(hop, tmp_path / "profile.png")
    assert out.stat().st_size > 5000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    x = reaction_coordinate(hop.images)
    assert np.all(np.diff(x) > 0)


@pytest.mark.slow
def test_qe_bulk_relaxation_before_neb(tmp_path):
    primitive = li2s_candidate().structure.get_primitive_structure()
    primitive.scale_lattice(primitive.volume * 0.9)
    candidate = li2s_candidate().model_copy(update={"structure": primitive})
    landscape = BVSELandscape.from_structure(primitive, resolution_angstrom=0.3)
    maker = QENEBMaker(
        relax_bulk=True,
        bulk_fmax_ev_per_angstrom=0.05,
        qe=QESettings(pseudo_dir=str(PSEUDO_DIR), ecutwfc_ry=60.0, kpoints=(3, 3, 3)),
        work_dir=str(tmp_path),
    )
    _, structure, new_landscape, extra = maker.preflight(candidate, landscape)
    bulk = extra["calculator_settings"]["bulk_relax"]
    assert bulk["converged"] and bulk["volume_change_percent"] > 5  # compressed cell expands
    assert structure.volume > primitive.volume
    # the fractional BVSE grid follows the strained cell
    assert np.allclose(new_landscape.lattice, structure.lattice.matrix)
    assert np.array_equal(new_landscape.energies_ev, landscape.energies_ev)
    # how the NEB's (relaxed) cell was ordered is kept: here it was ordered already
    assert extra["was_ordered"] is False and extra["ordering"] is None


def test_thesis_settings_and_yaml_style_qe_settings():
    from sseflow.neb.base import THESIS_ENDPOINT_FMAX_EV_PER_ANGSTROM

    maker = QENEBMaker.thesis(qe={"pseudo_dir": "/paw", "mpi_command": "mpirun -np 64"})
    assert maker.neb.endpoint_fmax_ev_per_angstrom == THESIS_ENDPOINT_FMAX_EV_PER_ANGSTROM == 3e-4
    assert maker.neb.fmax_ev_per_angstrom == 0.05 and maker.min_length_angstrom == 10.0
    assert maker.relax_bulk and maker.convergence_test and maker.charged_vacancy
    assert maker.qe.mpi_command == "mpirun -np 64"
    # the thesis endpoint threshold is also the default now
    assert QENEBMaker().neb == CHGNetNEBMaker().neb
    assert CHGNetNEBMaker().neb.endpoint_fmax_ev_per_angstrom == 3e-4
    assert QENEBMaker.thesis(qe=QESettings(), n_hops=2).n_hops == 2
    # a funnel YAML gives qe as a plain mapping
    assert QENEBMaker(qe={"ecutwfc_ry": 55.0}).qe == QESettings(ecutwfc_ry=55.0)


def test_makers_serialize_for_workflow_managers():
    from jobflow import Job

    landscape = BVSELandscape(lattice=np.eye(3) * 4.0, energies_ev=np.zeros((4, 4, 4)))
    maker = QENEBMaker(qe=QESettings(pseudo_dir="/pseudo", ecutwfc_ry=45.0))
    job = maker.make(li2s_candidate(), bvse_landscape=landscape)
    restored = Job.from_dict(job.as_dict())
    assert restored.maker.qe.ecutwfc_ry == 45.0
    assert isinstance(restored.function_kwargs["bvse_landscape"], BVSELandscape)
    assert restored.config.expose_store  # to read the stored BVSE grid in the funnel
    assert CHGNetNEBMaker.from_dict(CHGNetNEBMaker(n_hops=2).as_dict()).n_hops == 2


def li_al_te2_candidate() -> Candidate:
    structure = Structure.from_spacegroup(
        "I-42d",
        Lattice.tetragonal(6.30, 12.20),
        ["Li+", "Al3+", "Te2-"],
        [[0, 0, 0], [0, 0, 0.5], [0.25, 0.25, 0.125]],
    )
    return Candidate(
        candidate_id="lialte2",
        formula="LiAlTe2",
        structure=structure,
        oxidation_states={"Li": 1.0, "Al": 3.0, "Te": -2.0},
        source=SourceInfo(path="<memory>", format="structure"),
    )


def test_no_hop_is_an_expected_failure_with_a_reason_in_words(tmp_path):
    maker = CHGNetNEBMaker(min_length_angstrom=5.5, max_hop_angstrom=4.0, work_dir=str(tmp_path))
    doc = run(maker.make(li_al_te2_candidate()))
    assert doc.status == TierStatus.FAILED
    assert doc.reason.startswith("no Li-Li hop within the hop search limit")
    assert "shortest Li-Li distance 4.38 A" in doc.reason
    assert "BVSE percolation energy" in doc.reason
    assert "(at " not in doc.reason and ".py" not in doc.reason


def test_mlip_maker_names_and_hashes():
    import importlib
    import warnings

    import sseflow
    import sseflow.neb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = importlib.import_module("sseflow.makers.neb")
    assert sseflow.MLIPNEBMaker is sseflow.neb.MLIPNEBMaker is legacy.MLIPNEBMaker
    assert MLIPNEBMaker().potential == sseflow.neb.DEFAULT_POTENTIAL
    chgnet = MLIPNEBMaker(potential="CHGNet")
    assert chgnet.tier_settings_hash() == CHGNetNEBMaker().tier_settings_hash()
    assert "potential" not in CHGNetNEBMaker().tier_settings()
    assert MLIPNEBMaker().tier_settings()["potential"] == "SevenNet-l3i5"
    assert MLIPNEBMaker().tier_settings_hash() != chgnet.tier_settings_hash()
    assert MLIPNEBMaker(calibration=None).tier_settings()["calibration"] is None
    crossed = CHGNetNEBMaker(cross_check_potentials=["SevenNet-0"])
    assert crossed.tier_settings_hash() != CHGNetNEBMaker().tier_settings_hash()
    assert CHGNetNEBMaker.from_dict(crossed.as_dict()) == crossed


def test_unknown_potential_fails_cleanly(tmp_path):
    maker = MLIPNEBMaker(potential="MACE-MP-0", min_length_angstrom=5.5, work_dir=str(tmp_path))
    doc = run(maker.make(li2s_candidate()))
    assert doc.status == TierStatus.FAILED
    assert doc.reason.startswith("unknown potential 'MACE-MP-0'")


def test_mlip_maker_with_a_local_model_file(tmp_path):
    import shutil

    import chgnet

    shipped = next((Path(chgnet.__file__).parent / "pretrained" / "0.3.0").glob("*.pth.tar"))
    local = tmp_path / "chgnet-copy.pth.tar"
    shutil.copy(shipped, local)
    maker = MLIPNEBMaker(
        potential=str(local), min_length_angstrom=5.5, n_images=3, work_dir=str(tmp_path)
    )
    doc = run(maker.make(li2s_candidate()))
    assert doc.status == TierStatus.PENDING, doc.reason
    assert doc.potential["model_file"] == str(local.resolve())
    assert len(doc.potential["model_sha256"]) == 64
    assert doc.calculator.startswith(f"{local} (chgnet ")
    # a potential without a calibration says so instead of inventing a number
    assert doc.barrier_calibrated_ev is None and "no calibration" in doc.calibration["note"]


@pytest.mark.slow
def test_sevennet_with_chgnet_cross_check(tmp_path):
    """The default potential (SevenNet-l3i5) and CHGNet on the same hop of an 11-atom cell."""
    maker = MLIPNEBMaker(
        min_length_angstrom=5.5,
        n_images=3,
        cross_check_potentials=["CHGNet"],
        disagreement_threshold_ev=0.01,
        work_dir=str(tmp_path),
    )
    doc = run(maker.make(li2s_candidate()))
    assert doc.status == TierStatus.PENDING, doc.reason
    assert doc.potential["name"] == DEFAULT_POTENTIAL and doc.potential["package"] == "sevenn"
    assert doc.calculator.startswith(f"{DEFAULT_POTENTIAL} (sevenn 0.13.0")
    assert set(doc.cross_check) == {DEFAULT_POTENTIAL, "CHGNet"}
    sevennet, chgnet = doc.cross_check[DEFAULT_POTENTIAL], doc.cross_check["CHGNet"]
    assert sevennet["barrier_forward_ev"] == doc.barrier_forward_ev
    assert (
        chgnet["converged"] and chgnet["hop_lengths_angstrom"] == sevennet["hop_lengths_angstrom"]
    )
    assert doc.potential_spread_ev > 0.01 and doc.potentials_disagree
    # the shipped calibration (benchmarks/neb_calibration.py) is applied when it has
    # the default potential; without one the record says so instead of inventing a number
    shipped = load_calibration("shipped").get(DEFAULT_POTENTIAL)
    if shipped is None:
        assert doc.barrier_calibrated_ev is None and "no calibration" in doc.calibration["note"]
    else:
        assert doc.barrier_calibrated_ev == pytest.approx(
            shipped.apply(doc.barrier_forward_ev), abs=1e-5
        )  # recorded to 1e-6 eV
        assert doc.calibration["n_pairs"] == shipped.n_pairs >= 5


def test_run_folder_is_keyed_by_the_settings_hash(tmp_path):
    chgnet = CHGNetNEBMaker(work_dir=str(tmp_path))
    folder = chgnet.job_dir("c1")
    assert folder.parent == tmp_path.resolve() / "neb_mlip" / "c1"
    assert folder.name == chgnet.tier_settings_hash()[:12]
    assert CHGNetNEBMaker(work_dir=str(tmp_path)).job_dir("c1") == folder  # resumable
    assert MLIPNEBMaker(potential="SevenNet-0", work_dir=str(tmp_path)).job_dir("c1") != folder
    assert CHGNetNEBMaker(n_images=3, work_dir=str(tmp_path)).job_dir("c1") != folder
    qe = QENEBMaker(work_dir=str(tmp_path))
    assert qe.job_dir("c1").name == qe.tier_settings_hash()[:12]
    other_qe = QENEBMaker(qe=QESettings(ecutwfc_ry=50.0), work_dir=str(tmp_path))
    assert other_qe.job_dir("c1") != qe.job_dir("c1")


def test_two_potentials_on_one_candidate_never_share_images(tmp_path):
    """CHGNet, then CHGNet-0.2.0 on the same candidate and work_dir: each its own run."""
    candidate = li2s_candidate()
    landscape = BVSELandscape.from_structure(candidate.structure, resolution_angstrom=0.3)
    common = {"min_length_angstrom": 5.5, "n_images": 3, "work_dir": str(tmp_path)}
    first = run(CHGNetNEBMaker(**common).make(candidate, bvse_landscape=landscape.as_dict()))
    older = MLIPNEBMaker(potential="CHGNet-0.2.0", **common)
    second = run(older.make(candidate, bvse_landscape=landscape.as_dict()))
    assert first.converged and second.converged, (first.reason, second.reason)
    assert first.hops[0].work_dir != second.hops[0].work_dir
    assert not second.hops[0].resumed
    assert second.potential["model"] == "0.2.0"
    # each potential's own band: the endpoint energies differ between the models
    assert abs(first.hops[0].energies_ev[0] - second.hops[0].energies_ev[0]) > 0.01
    # the same settings again find their finished run
    again = run(CHGNetNEBMaker(**common).make(candidate, bvse_landscape=landscape.as_dict()))
    assert again.hops[0].resumed and again.barrier_forward_ev == first.barrier_forward_ev
