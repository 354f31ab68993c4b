"""DRF's LimitOffsetPagination: `count`, `next`, `previous`, `results`, with absolute URLs."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

DEFAULT_PAGE_SIZE = 100
# PostgreSQL's integer columns and its LIMIT/OFFSET (bigint): larger numbers from a client are refused
# or clamped before a query sees them, never left to fail there.
PG_INTEGER_MAX = 2**31 - 1
PG_BIGINT_MAX = 2**63 - 1
LIMIT_DESCRIPTION = "Number of results per page (default 100)."
OFFSET_DESCRIPTION = "Index of the first result."


def _non_negative(raw: str | None, default: int) -> int:
    # DRF silently falls back to the default for values it cannot use.
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return min(value, PG_BIGINT_MAX) if value >= 0 else default


@dataclass(frozen=True)
class Page:
    request: Request
    limit: int
    offset: int

    def links(self, count: int) -> tuple[str | None, str | None]:
        url = self.request.url
        next_url = None
        if self.offset + self.limit < count:
            next_url = str(url.include_query_params(limit=self.limit, offset=self.offset + self.limit))
        previous_url = None
        if self.offset > 0:
            previous_offset = max(self.offset - self.limit, 0)
            previous = url.include_query_params(limit=self.limit)
            previous_url = str(
                previous.remove_query_params("offset")
                if previous_offset == 0
                else previous.include_query_params(offset=previous_offset)
            )
        return next_url, previous_url


# Async so FastAPI calls it on the loop: a plain `def` dependency costs a hop to the thread pool per request.
async def page_params(
    request: Request,
    limit: Annotated[str | None, Query(description=LIMIT_DESCRIPTION)] = None,
    offset: Annotated[str | None, Query(description=OFFSET_DESCRIPTION)] = None,
) -> Page:
    return page_of(request, limit, offset)


def page_of(request: Request, limit: str | None, offset: str | None) -> Page:
    size = _non_negative(limit, DEFAULT_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    return Page(request=request, limit=size, offset=_non_negative(offset, 0))


Pagination = Annotated[Page, Depends(page_params)]
