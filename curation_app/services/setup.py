"""First run: create or migrate the database and, on request, load the bundled demo projects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

from curation_app.domain import Status
from curation_app.errors import NotFoundError
from curation_app.services.context import AppContext
from curation_app.services.permissions import Actor, UserRole
from curation_app.services.projects import create_project
from curation_app.services.transfer import import_file
from curation_app.services.users import add_user
from curation_app.store import UnitOfWork, migrate

# (project name, preset, demo file bundled in curation_app/demo)
DEMO_PROJECTS: tuple[tuple[str, str, str], ...] = (
    ("demo-peconv", "peconv", "peconv_demo.json"),
    ("demo-extes", "extes", "extes_demo.json"),
)
SYSTEM_ACTOR = Actor("setup", UserRole.LEAD)
# One account per role so that the demo can be tried at once; the README names them.
DEMO_PASSWORD = "demo-password"
DEMO_USERS: tuple[tuple[str, UserRole], ...] = (
    ("demo-annotator", UserRole.ANNOTATOR),
    ("demo-reviewer", UserRole.REVIEWER),
    ("demo-lead", UserRole.LEAD),
)


@dataclass
class InitSummary:
    revision_before: str | None
    revision_after: str
    demo_loaded: list[str] = field(default_factory=list)
    demo_users: list[str] = field(default_factory=list)

    def line(self) -> str:
        if self.revision_before is None:
            text = f"created database at schema {self.revision_after}"
        elif self.revision_before != self.revision_after:
            text = (f"migrated database from schema {self.revision_before} "
                    f"to {self.revision_after}")
        else:
            text = f"database is up to date (schema {self.revision_after})"
        if self.demo_loaded:
            text += f"; loaded demo projects {', '.join(self.demo_loaded)}"
        if self.demo_users:
            text += (f"; added demo users {', '.join(self.demo_users)} "
                     f"(password {DEMO_PASSWORD})")
        return text


def initialise(ctx: AppContext, *, demo: bool = False) -> InitSummary:
    before, after = migrate(ctx.engine)
    summary = InitSummary(before, after)
    if demo:
        summary.demo_loaded = load_demo(ctx)
        summary.demo_users = add_demo_users(ctx)
    return summary


def _exists(ctx: AppContext, lookup: Callable[[UnitOfWork], object]) -> bool:
    with ctx.uow() as uow:
        try:
            lookup(uow)
        except NotFoundError:
            return False
    return True


def add_demo_users(ctx: AppContext) -> list[str]:
    """Create each demo account that does not exist yet; returns the names created."""
    created = []
    for name, role in DEMO_USERS:
        if _exists(ctx, lambda uow, name=name: uow.repo.get_user(name)):
            continue
        add_user(ctx, SYSTEM_ACTOR, name, role, DEMO_PASSWORD)
        created.append(name)
    return created


def load_demo(ctx: AppContext) -> list[str]:
    """Create each demo project that does not exist yet; returns the names created."""
    created = []
    folder = resources.files("curation_app.demo")
    for name, preset, filename in DEMO_PROJECTS:
        if _exists(ctx, lambda uow, name=name: uow.repo.get_project(name)):
            continue
        create_project(ctx.uow(), SYSTEM_ACTOR, name, preset)
        with resources.as_file(folder.joinpath(filename)) as path:
            import_file(ctx.uow(), SYSTEM_ACTOR, path, preset, name, status=str(Status.DRAFT))
        created.append(name)
    return created
