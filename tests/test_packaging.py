"""pyproject.toml and requirements.txt agree, the package carries its data files, and `import clone` stays light."""

from __future__ import annotations

import fnmatch
import importlib
import re
import subprocess
import sys
import tomllib

from packaging.requirements import Requirement

from clone.config import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
HEAVY = ("gradio", "langchain", "langchain_core", "torch", "transformers", "openvino", "pandas", "sqlalchemy")


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", Requirement(requirement).name).lower()


def pinned() -> dict[str, str]:
    """requirements.txt as {normalised name: exact version}."""
    pins = {}
    for line in (PROJECT_ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"requirements.txt pins exact versions: {line}"
            pins[_name(line)] = spec.version
    return pins


def declared() -> list[str]:
    project = PYPROJECT["project"]
    return [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]


def test_pyproject_declares_every_pinned_package_and_accepts_the_pinned_version():
    pins = pinned()
    seen = set()
    for line in declared():
        requirement = Requirement(line)
        name = _name(line)
        assert name in pins, f"{name} is declared in pyproject.toml but not pinned in requirements.txt"
        assert requirement.specifier.contains(pins[name]), f"{line} excludes the tested version {pins[name]}"
        seen.add(name)
    assert set(pins) == seen, f"pinned but not declared in pyproject.toml: {sorted(set(pins) - seen)}"


def test_extras_and_console_script():
    project = PYPROJECT["project"]
    assert set(project["optional-dependencies"]) >= {"openai", "hf", "local", "postgres", "test"}
    assert PYPROJECT["build-system"]["build-backend"] == "setuptools.build_meta"
    module, _, function = project["scripts"]["clone"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_package_data_covers_every_data_file():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["clone"]
    package = PROJECT_ROOT / "clone"
    data = [
        p.relative_to(package).as_posix()
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert data, "the package has data files (prompts, calibration text)"
    # setuptools matches '**/' against zero or more folders
    left_out = [
        f for f in data if not any(fnmatch.fnmatch(f, p) or fnmatch.fnmatch(f, p.removeprefix("**/")) for p in patterns)
    ]
    assert not left_out, f"data files the wheel would leave out: {left_out}"


def test_import_clone_is_light():
    code = (
        "import sys, clone, clone.errors; "
        f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import clone.errors pulls in: {out.stdout.strip()}"


def test_public_names_still_import_from_clone():
    import clone

    for name in clone.__all__:
        assert getattr(clone, name) is not None
    from clone import CloneError, db  # a public name and a submodule

    assert issubclass(CloneError, Exception) and db.__name__ == "clone.db"
