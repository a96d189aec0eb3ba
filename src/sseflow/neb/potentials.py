"""Universal machine-learned potentials by name or by model file, as ASE calculators.

A potential is chosen the way atomate2 chooses a force field (``force_field_name``): by
a name, here one of the potentials whose weights ship inside an installed wheel, so
they load with no network:

==================  =========================================================
name                model (package)
==================  =========================================================
``CHGNet``          CHGNet 0.3.0 weights (chgnet; the package default)
``CHGNet-0.2.0``    CHGNet 0.2.0 weights (chgnet)
``CHGNet-r2SCAN``   CHGNet fine-tuned on r2SCAN (chgnet)
``SevenNet-0``      SevenNet-0, 11 Jul 2024 (sevenn; ``7net-0``)
``SevenNet-l3i5``   SevenNet-l3i5 (sevenn)
``SevenNet-MF-0``   SevenNet multi-fidelity, PBE head (sevenn; ``7net-mf-0``)
==================  =========================================================

or by the path of a local model file (any potential whose weights cannot be shipped or
downloaded here, e.g. MACE, or a fine-tuned CHGNet/SevenNet): ``"/path/model.pth"``.
The family is read from the file name (``*.pth.tar``: CHGNet, ``*.pth``: SevenNet
checkpoint, ``*.model``: MACE) or given as a prefix, ``"mace:/path/file"``,
``"chgnet:/path/file"``, ``"sevennet:/path/file"``. Any other ASE calculator comes in
through ``"python:package.module:function"``: ``function(model_path or None)`` must
return an ASE calculator; give the model file after a ``@``:
``"python:mypkg.calc:load@/path/model.bin"``.

:func:`load_potential` returns a :class:`LoadedPotential`: a factory of calculators
sharing one loaded model (one calculator per NEB image) and a description for the
record (name, family, package version, model file and its SHA-256).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, cast

from ase.calculators.calculator import Calculator


class PotentialError(ValueError):
    """A potential cannot be found or loaded (the message says which and why)."""


@dataclass(frozen=True)
class PotentialSpec:
    """What a potential name or path refers to.

    Attributes
    ----------
    name
        Canonical name (``"SevenNet-0"``) or the path as given.
    family
        ``"chgnet"``, ``"sevennet"``, ``"mace"`` or ``"python"``.
    model
        Pretrained model id of the package, or the model file path.
    modal
        Fidelity head of a multi-fidelity model (SevenNet-MF), else None.
    factory
        ``module:function`` of a ``python:`` potential.
    """

    name: str
    family: str
    model: str | None
    modal: str | None = None
    factory: str | None = None

    @property
    def is_file(self) -> bool:
        """True when the model comes from a local file."""
        return self.model is not None and Path(self.model).is_file()


#: Potentials whose weights ship inside their wheel (no download).
SHIPPED_POTENTIALS: dict[str, PotentialSpec] = {
    "CHGNet": PotentialSpec("CHGNet", "chgnet", "0.3.0"),
    "CHGNet-0.2.0": PotentialSpec("CHGNet-0.2.0", "chgnet", "0.2.0"),
    "CHGNet-r2SCAN": PotentialSpec("CHGNet-r2SCAN", "chgnet", "r2scan"),
    "SevenNet-0": PotentialSpec("SevenNet-0", "sevennet", "7net-0"),
    "SevenNet-l3i5": PotentialSpec("SevenNet-l3i5", "sevennet", "7net-l3i5"),
    "SevenNet-MF-0": PotentialSpec("SevenNet-MF-0", "sevennet", "7net-mf-0", modal="PBE"),
}
_ALIASES = {
    "7net-0": "SevenNet-0",
    "sevennet": "SevenNet-0",
    "7net-l3i5": "SevenNet-l3i5",
    "7net-mf-0": "SevenNet-MF-0",
}
_PACKAGES = {"chgnet": "chgnet", "sevennet": "sevenn", "mace": "mace-torch"}


def resolve_potential(potential: str) -> PotentialSpec:
    """Return what ``potential`` (a shipped name, a model file or ``python:...``) means.

    Raises
    ------
    PotentialError
        Unknown name, missing file, or a file whose family cannot be told.
    """
    text = potential.strip()
    by_name = {name.lower(): spec for name, spec in SHIPPED_POTENTIALS.items()}
    key = _ALIASES.get(text.lower(), text).lower()
    if key in by_name:
        return by_name[key]
    if text.startswith("python:"):
        target, _, model = text.removeprefix("python:").partition("@")
        if ":" not in target:
            raise PotentialError(f"{text!r}: expected python:package.module:function[@model]")
        if model and not Path(model).is_file():
            raise PotentialError(f"model file {model} of potential {text!r} not found")
        return PotentialSpec(text, "python", model or None, factory=target)
    family: str | None  # None once a bare model file has an unknown suffix
    family, _, rest = text.partition(":")
    if family.lower() in _PACKAGES and rest:
        path, family = rest, family.lower()
    else:
        path, family = text, _family_from_suffix(text)
    if not Path(path).is_file():
        names = ", ".join(SHIPPED_POTENTIALS)
        raise PotentialError(
            f"unknown potential {potential!r}: not one of {names} (weights shipped "
            "in their wheels) and no such model file"
        )
    if family is None:
        raise PotentialError(
            f"cannot tell the family of model file {path} from its name; prefix it with "
            "chgnet:, sevennet: or mace:, or use python:module:function@file"
        )
    return PotentialSpec(text, family, str(Path(path).resolve()))


def _family_from_suffix(path: str) -> str | None:
    name = Path(path).name.lower()
    if name.endswith(".pth.tar"):
        return "chgnet"
    if name.endswith(".pth"):
        return "sevennet"
    if name.endswith(".model"):
        return "mace"
    return None


def file_sha256(path: str | Path) -> str:
    """Return the SHA-256 of a file (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class LoadedPotential:
    """A loaded potential: a calculator factory and its description.

    Attributes
    ----------
    spec
        What was asked for.
    make_calculator
        Returns a new ASE calculator sharing the loaded model (one per NEB image).
    info
        ``name``, ``family``, ``package``, ``package_version``, ``model``,
        ``model_file`` and ``model_sha256`` (None when not applicable), ``modal``.
    """

    spec: PotentialSpec
    make_calculator: Callable[[], Calculator]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Return e.g. ``"SevenNet-0 (sevenn 0.13.0)"`` for the record."""
        package = self.info.get("package")
        if package is None:
            return self.spec.name
        return f"{self.spec.name} ({package} {self.info.get('package_version')})"


def _package_version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def load_potential(potential: str, threads: int | None = 1) -> LoadedPotential:
    """Load a potential once and return a factory of calculators that share it.

    Parameters
    ----------
    potential
        A shipped name (:data:`SHIPPED_POTENTIALS`), a model file or ``python:...``
        (see the module documentation).
    threads
        torch threads (None leaves torch's default).

    Raises
    ------
    PotentialError
        The potential is unknown, its package is not installed or loading failed.
    """
    spec = resolve_potential(potential)
    package = _PACKAGES.get(spec.family)
    if package is not None and _package_version(package) is None:
        raise PotentialError(
            f"potential {spec.name!r} needs the {package} package, which is not installed"
        )
    if threads is not None and spec.family in _PACKAGES:
        import torch

        torch.set_num_threads(threads)
    loaders = {"chgnet": _chgnet, "sevennet": _sevennet, "mace": _mace, "python": _python}
    try:
        make, model_file = loaders[spec.family](spec)
    except PotentialError:
        raise
    except Exception as exc:
        raise PotentialError(f"loading potential {spec.name!r} failed: {exc}") from exc
    info = {
        "name": spec.name,
        "family": spec.family,
        "package": package,
        "package_version": None if package is None else _package_version(package),
        "model": spec.model,
        "model_file": model_file,
        "model_sha256": None if model_file is None else file_sha256(model_file),
        "modal": spec.modal,
    }
    return LoadedPotential(spec, make, info)


def _chgnet(spec: PotentialSpec) -> tuple[Callable[[], Calculator], str | None]:
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    # a chgnet spec always has a model (a shipped id or a resolved file, resolve_potential)
    model_ref = cast(str, spec.model)
    if spec.is_file:
        model = CHGNet.from_file(model_ref)
        path: str | None = model_ref
    else:
        model = CHGNet.load(model_name=model_ref, verbose=False)
        path = _chgnet_checkpoint(spec.model)
    return (lambda: CHGNetCalculator(model=model, use_device="cpu")), path


def _chgnet_checkpoint(model_name: str | None) -> str | None:
    """Return the weight file CHGNet.load(model_name) reads from the chgnet wheel."""
    import chgnet

    folder = Path(chgnet.__file__).parent / "pretrained" / str(model_name)
    files = sorted(folder.glob("*.pth.tar"))
    return str(files[0]) if files else None


def _sevennet(spec: PotentialSpec) -> tuple[Callable[[], Calculator], str | None]:
    from sevenn.calculator import SevenNetCalculator
    from sevenn.util import pretrained_name_to_path

    path = spec.model if spec.is_file else pretrained_name_to_path(str(spec.model))
    first = SevenNetCalculator(str(path), device="cpu", modal=spec.modal)
    model = first.model

    def make() -> Calculator:
        return SevenNetCalculator(model, file_type="model_instance", device="cpu", modal=spec.modal)

    return make, str(path)


def _mace(spec: PotentialSpec) -> tuple[Callable[[], Calculator], str | None]:
    try:
        from mace.calculators import MACECalculator
    except ImportError as exc:
        raise PotentialError(
            f"potential {spec.name!r} is a MACE model: install mace-torch to use it"
        ) from exc
    # one load per calculator: MACE has no public way to share a loaded model
    return (
        lambda: MACECalculator(model_paths=spec.model, device="cpu", default_dtype="float64")
    ), spec.model


def _python(spec: PotentialSpec) -> tuple[Callable[[], Calculator], str | None]:
    module_name, _, function_name = str(spec.factory).rpartition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise PotentialError(f"cannot import {spec.factory!r}: {exc}") from exc
    return (lambda: function(spec.model)), spec.model
