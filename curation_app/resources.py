"""Where the folders that ship beside the package live: ``schemas/`` and ``prompts/``.

In a source checkout (or an editable install) they sit at the repository root, next to the
package. A wheel cannot carry top-level folders, so ``pyproject.toml`` force-includes them as
``curation_app/_bundled/<kind>``. The bundled copy wins when it exists: an installed package must
never pick up an unrelated ``schemas`` folder that happens to sit beside it in site-packages.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from curation_app.errors import InvalidInputError

RESOURCE_KINDS: tuple[str, ...] = ("schemas", "prompts")

_PACKAGE_ROOT = Path(__file__).resolve().parent


def resource_folder(kind: str) -> Path:
    """The folder holding resources of ``kind`` (it may be missing in a broken install)."""
    if kind not in RESOURCE_KINDS:
        raise InvalidInputError(
            f"unknown resource kind {kind!r}; choose one of {', '.join(RESOURCE_KINDS)}"
        )
    bundled = _PACKAGE_ROOT / "_bundled" / kind
    if bundled.is_dir():
        return bundled
    return _PACKAGE_ROOT.parent / kind


def resource_path(kind: str, name: str) -> Path:
    """The path of resource ``name`` (``"esconv.schema.json"``, ``"peconv_draft.j2"``).

    ``name`` may contain ``/`` for sub-folders but may not climb out of the folder. The file is
    not required to exist: callers read it and report a missing file in their own words.
    """
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts or (parts and parts[0] == "/"):
        raise InvalidInputError(f"resource name {name!r} must stay inside the {kind} folder")
    return resource_folder(kind).joinpath(*parts)
