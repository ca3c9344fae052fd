"""The tools as a chat model sees them (JSON schemas through pydantic); their arguments are
what stack/agent/tools.py executes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FilterArg(BaseModel):
    dimension: str = Field(
        description="A MetricFlow dimension or entity, e.g. transaction__category_group"
    )
    values: list[str] = Field(description="Accepted values (equality / IN)")


class metric_query(BaseModel):
    """Compute metrics from the semantic layer (MetricFlow compiles the SQL)."""

    metrics: list[str] = Field(description="Metric names, e.g. ['spend']")
    group_by: list[str] = Field(
        default_factory=list,
        description="e.g. ['transaction__category_group', 'metric_time__month']",
    )
    filters: list[FilterArg] = Field(default_factory=list)
    start: str | None = Field(None, description="First day, YYYY-MM-DD (inclusive)")
    end: str | None = Field(None, description="Last day, YYYY-MM-DD (inclusive)")
    order_by: list[str] = Field(
        default_factory=list, description="Names; prefix '-' for descending"
    )
    limit: int | None = None


class run_sql(BaseModel):
    """Run one read-only SELECT over the warehouse's staging and marts tables."""

    sql: str = Field(description="One SELECT statement")


class search_documents(BaseModel):
    """Search the text of the statements and invoices (PDFs)."""

    query: str
    kind: str | None = Field(None, description="statement or invoice")
    vendor: str | None = None
    account_id: str | None = None
    issued_from: str | None = Field(
        None, description="YYYY-MM-DD: invoices issued / statements ending on or after"
    )
    issued_to: str | None = Field(None, description="YYYY-MM-DD, inclusive")


TOOL_SCHEMAS = [metric_query, run_sql, search_documents]
