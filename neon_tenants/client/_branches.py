"""Branch calls (CONTRACT.md section 2): create with PITR/expiry/schema-only, restore, schema."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

from ._operations import OperationsMixin
from .models.branches import (
    Branch,
    BranchCreate,
    BranchesCount,
    BranchesPage,
    BranchOperations,
    BranchResponse,
    BranchRestore,
    BranchSchema,
    BranchUpdate,
    CreatedBranch,
    SchemaCompare,
)
from .models.endpoints import EndpointCreateOptions

BRANCHES = "/projects/{project_id}/branches"
BRANCH = "/projects/{project_id}/branches/{branch_id}"


class BranchesMixin(OperationsMixin):
    """Branches of a project."""

    def create_branch(
        self,
        project_id: str,
        body: BranchCreate | None = None,
        endpoints: Sequence[EndpointCreateOptions] | None = None,
        *,
        wait: bool = True,
    ) -> CreatedBranch:
        """POST .../branches; `endpoints` adds computes (none are created without it)."""
        payload = body.model_copy() if body is not None else BranchCreate()
        if endpoints is not None:
            payload = payload.model_copy(update={"endpoints": list(endpoints)})
        created = self._call(
            "POST", BRANCHES, CreatedBranch, path={"project_id": project_id}, json=payload.to_body()
        )
        return self._waited(project_id, created, wait)

    def iter_branches(
        self,
        project_id: str,
        search: str | None = None,
        sort_by: Literal["name", "created_at", "updated_at"] = "updated_at",
        sort_order: Literal["asc", "desc"] = "desc",
    ) -> Iterator[Branch]:
        """All branches, following `pagination.next` (CursorPagination style)."""
        return self._pages(
            BRANCHES,
            BranchesPage,
            lambda page: page.branches,
            lambda page: page.pagination.next if page.pagination else None,
            path={"project_id": project_id},
            params={"search": search, "sort_by": sort_by, "sort_order": sort_order},
            limit=self.config.branches_page_size,
        )

    def count_branches(self, project_id: str, search: str | None = None) -> int:
        return self._call(
            "GET",
            BRANCHES + "/count",
            BranchesCount,
            path={"project_id": project_id},
            params={"search": search},
        ).count

    def get_branch(self, project_id: str, branch_id: str) -> Branch:
        path = {"project_id": project_id, "branch_id": branch_id}
        return self._call("GET", BRANCH, BranchResponse, path=path).branch

    def update_branch(
        self, project_id: str, branch_id: str, body: BranchUpdate, *, wait: bool = True
    ) -> Branch:
        path = {"project_id": project_id, "branch_id": branch_id}
        result = self._call(
            "PATCH", BRANCH, BranchOperations, path=path, json={"branch": body.to_body()}
        )
        return self._waited(project_id, result, wait).branch

    def delete_branch(self, project_id: str, branch_id: str, *, wait: bool = True) -> Branch | None:
        """DELETE; a 204 (already gone) returns None."""
        path = {"project_id": project_id, "branch_id": branch_id}
        result = self._delete(project_id, BRANCH, path, BranchOperations.model_validate, wait)
        return None if result is None else result.branch

    def restore_branch(
        self,
        project_id: str,
        branch_id: str,
        source_branch_id: str,
        source_lsn: str | None = None,
        source_timestamp: str | None = None,
        preserve_under_name: str | None = None,
        *,
        wait: bool = True,
    ) -> Branch:
        """PITR / restore; `preserve_under_name` keeps the old state as a branch."""
        body = BranchRestore(
            source_branch_id=source_branch_id,
            source_lsn=source_lsn,
            source_timestamp=source_timestamp,
            preserve_under_name=preserve_under_name,
        )
        path = {"project_id": project_id, "branch_id": branch_id}
        result = self._call(
            "POST", BRANCH + "/restore", BranchOperations, path=path, json=body.to_body()
        )
        return self._waited(project_id, result, wait).branch

    def reset_branch_to_parent(
        self, project_id: str, branch_id: str, *, wait: bool = True
    ) -> Branch:
        """No dedicated route: restore from the parent's head (Neon docs)."""
        branch = self.get_branch(project_id, branch_id)
        if not branch.parent_id:
            raise ValueError(f"branch {branch_id} has no parent to reset to")
        return self.restore_branch(project_id, branch_id, branch.parent_id, wait=wait)

    def set_default_branch(self, project_id: str, branch_id: str, *, wait: bool = True) -> Branch:
        path = {"project_id": project_id, "branch_id": branch_id}
        result = self._call("POST", BRANCH + "/set_as_default", BranchOperations, path=path)
        return self._waited(project_id, result, wait).branch

    def compare_schema(
        self,
        project_id: str,
        branch_id: str,
        db_name: str,
        base_branch_id: str | None = None,
        lsn: str | None = None,
        timestamp: str | None = None,
        base_lsn: str | None = None,
        base_timestamp: str | None = None,
    ) -> str:
        """A unified diff of the schemas (empty when equal)."""
        params = {
            "db_name": db_name,
            "base_branch_id": base_branch_id,
            "lsn": lsn,
            "timestamp": timestamp,
            "base_lsn": base_lsn,
            "base_timestamp": base_timestamp,
        }
        path = {"project_id": project_id, "branch_id": branch_id}
        return self._call(
            "GET", BRANCH + "/compare_schema", SchemaCompare, path=path, params=params
        ).diff

    def branch_schema(
        self,
        project_id: str,
        branch_id: str,
        db_name: str,
        lsn: str | None = None,
        timestamp: str | None = None,
    ) -> str:
        """The schema as SQL text."""
        params = {"db_name": db_name, "lsn": lsn, "timestamp": timestamp}
        path = {"project_id": project_id, "branch_id": branch_id}
        return (
            self._call("GET", BRANCH + "/schema", BranchSchema, path=path, params=params).sql or ""
        )
