"""Project calls (CONTRACT.md section 1) and the idempotent create helper."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import SecretStr

from ._base import cursor_of
from ._operations import OperationsMixin
from .errors import AmbiguousOutcome
from .models.projects import (
    ConnectionURIResponse,
    CreatedProject,
    EnsuredProject,
    Project,
    ProjectCreate,
    ProjectListItem,
    ProjectOperations,
    ProjectResponse,
    ProjectsPage,
    ProjectUpdate,
    RecoveredProject,
)

PROJECTS = "/projects"
PROJECT = "/projects/{project_id}"


class ProjectsMixin(OperationsMixin):
    """create/get/list/update/delete/recover + connection_uri."""

    def create_project(self, body: ProjectCreate, *, wait: bool = True) -> CreatedProject:
        """POST /projects; not idempotent: a lost reply raises AmbiguousOutcome."""
        created = self._call("POST", PROJECTS, CreatedProject, json={"project": body.to_body()})
        return self._waited(created.project.id, created, wait)

    def get_project(self, project_id: str) -> Project:
        return self._call("GET", PROJECT, ProjectResponse, path={"project_id": project_id}).project

    def iter_projects(
        self, search: str | None = None, *, recoverable: bool | None = None
    ) -> Iterator[ProjectListItem]:
        """Every project visible to this key, following `pagination.cursor`."""
        return self._pages(
            PROJECTS,
            ProjectsPage,
            lambda page: page.projects,
            cursor_of,
            params={"search": search, "recoverable": recoverable},
            limit=self.config.projects_page_size,
        )

    def find_project_by_name(self, name: str) -> ProjectListItem | None:
        """Exact-name lookup (`search` matches partially, so filter on equality)."""
        for item in self.iter_projects(search=name):
            if item.name == name:
                return item
        return None

    def update_project(self, project_id: str, body: ProjectUpdate, *, wait: bool = True) -> Project:
        path = {"project_id": project_id}
        result = self._call(
            "PATCH", PROJECT, ProjectOperations, path=path, json={"project": body.to_body()}
        )
        return self._waited(project_id, result, wait).project

    def delete_project(self, project_id: str) -> Project:
        """Soft delete (recoverable for 7 days)."""
        return self._call(
            "DELETE", PROJECT, ProjectResponse, path={"project_id": project_id}
        ).project

    def recover_project(self, project_id: str) -> RecoveredProject:
        return self._call(
            "POST", PROJECT + "/recover", RecoveredProject, path={"project_id": project_id}
        )

    def connection_uri(
        self,
        project_id: str,
        database_name: str,
        role_name: str,
        branch_id: str | None = None,
        endpoint_id: str | None = None,
        pooled: bool = False,
    ) -> SecretStr:
        """The URI contains the password, so it is returned as SecretStr."""
        params = {
            "database_name": database_name,
            "role_name": role_name,
            "branch_id": branch_id,
            "endpoint_id": endpoint_id,
            "pooled": True if pooled else None,
        }
        result = self._call(
            "GET",
            PROJECT + "/connection_uri",
            ConnectionURIResponse,
            path={"project_id": project_id},
            params=params,
        )
        return result.uri

    def create_project_idempotent(
        self, body: ProjectCreate, *, known_absent: bool = False
    ) -> EnsuredProject:
        """Create a project by unique name exactly once, even across lost replies.

        Find by exact name first; else create; on AmbiguousOutcome look the name up again
        and wait for that project's pending operations (the create may still be running).
        `known_absent=True` skips the first lookup: for a caller that knows no create was
        ever sent for this name (a tenant added by this very call, issue #16); a lost reply
        is still settled by the lookup, so the create stays exactly-once.
        """
        if not body.name:
            raise ValueError("create_project_idempotent needs body.name (the idempotency key)")
        existing = None if known_absent else self.find_project_by_name(body.name)
        if existing is not None:
            return EnsuredProject(project=self.get_project(existing.id), created=False)
        for _ in range(2):
            try:
                created = self.create_project(body)
            except AmbiguousOutcome:
                found = self.find_project_by_name(body.name)
                if found is None:
                    continue  # the server did not act after all: create again
                self.wait_for_pending(found.id)
                return EnsuredProject(project=self.get_project(found.id), created=True)
            return EnsuredProject(project=created.project, created=True, response=created)
        raise AmbiguousOutcome("POST", PROJECTS, "-", "reply lost twice and project not found")

    def wait_for_pending(self, project_id: str, timeout: float | None = None) -> None:
        """Wait for whatever operations of the project are still running."""
        pending = []
        for op in self.iter_operations(project_id):
            if op.status not in ("finished", "skipped", "cancelled"):
                pending.append(op)
        if pending:
            self.wait_for_operations(project_id, pending, timeout)
