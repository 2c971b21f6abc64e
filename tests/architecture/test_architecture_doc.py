"""docs/architecture.md names every module of the package, and the layers it draws are the
ones pyproject.toml's import contract enforces."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "django_cfg"
DOC = (ROOT / "docs" / "architecture.md").read_text()


def _modules() -> list[str]:
    """Each module's path under django_cfg/ (empty ``__init__.py`` files and migrations aside)."""
    return [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts
        and not (path.name == "__init__.py" and not path.read_text().strip())
    ]


def _named(module: str) -> bool:
    folder, _, name = module.rpartition("/")
    return f"`{module}`" in DOC or (folder and f"`{name}`" in DOC.split(f"`{folder}/", 1)[-1])


def test_every_module_of_the_package_has_its_line() -> None:
    modules = _modules()
    assert len(modules) > 100
    assert [module for module in modules if not _named(module)] == []


def test_the_layers_drawn_are_the_contract() -> None:
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = contract["contracts"][0]["layers"]
    drawn = DOC.split("## Layers", 1)[1].split("## The runtime object", 1)[0]
    for layer in layers:
        for name in layer.replace(":", "|").split("|"):
            assert name.strip() in drawn, name
    bottom_up = [layer.replace(":", "|").split("|")[0].strip() for layer in reversed(layers)]
    positions = [drawn.index(f"{name}") for name in bottom_up]
    assert positions == sorted(positions), bottom_up
