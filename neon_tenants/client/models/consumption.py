"""Consumption v2 models (spec tag "Consumption"): per project and per branch."""

from __future__ import annotations

from ._base import ResponseModel
from .operations import Pagination


class MetricValue(ResponseModel):
    metric_name: str
    value: float


class Timeframe(ResponseModel):
    timeframe_start: str
    timeframe_end: str
    metrics: list[MetricValue] = []


class ConsumptionPeriod(ResponseModel):
    period_id: str
    period_plan: str
    period_start: str
    period_end: str | None = None
    consumption: list[Timeframe] = []


class ProjectConsumption(ResponseModel):
    project_id: str
    periods: list[ConsumptionPeriod] = []


class BranchConsumption(ResponseModel):
    project_id: str
    branch_id: str
    periods: list[ConsumptionPeriod] = []


class ProjectConsumptionPage(ResponseModel):
    projects: list[ProjectConsumption]
    pagination: Pagination | None = None


class BranchConsumptionPage(ResponseModel):
    branches: list[BranchConsumption]
    pagination: Pagination | None = None
