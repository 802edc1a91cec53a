"""Base classes: lenient responses (new API fields must not break parsing), strict requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ResponseModel(BaseModel):
    """Parsed from the API; unknown fields are kept (`extra="allow"`)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RequestModel(BaseModel):
    """Sent to the API; typos in field names are errors (`extra="forbid"`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_body(self) -> dict[str, Any]:
        """JSON body without unset/None fields (Neon treats absent as 'default')."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)
