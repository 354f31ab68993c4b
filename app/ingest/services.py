"""Building the ingestion collaborators for an app: Redis-backed when the app has Redis, in-process otherwise."""

from app.config import Settings
from app.ingest.flows import EventFlowCache
from app.ingest.pipeline import IngestServices
from app.ingest.redis_store import RedisTriggerStore
from app.ingest.stores import MemoryTriggerStore, TokenBucket, TriggerStore
from app.ingest.teams import TeamTokenCache
from app.worker.scheduling import ArqScheduler, Scheduler


def ingest_services(settings: Settings, scheduler: Scheduler) -> IngestServices:
    """Masking counters and rate-limit buckets live where the run queue lives: with the worker pool's
    Redis pool every API process shares them; the embedded mode keeps them in this process."""
    store: TriggerStore = (
        RedisTriggerStore(scheduler.redis) if isinstance(scheduler, ArqScheduler) else MemoryTriggerStore()
    )
    return IngestServices(
        store=store,
        flows=EventFlowCache(settings.event_flow_cache_seconds),
        teams=TeamTokenCache(settings.api_auth_cache_seconds),
        bucket=TokenBucket(
            size=settings.trigger_rate_limit_bucket_size,
            refill_per_second=settings.trigger_rate_limit_refill_per_second,
            ttl_seconds=settings.trigger_rate_limit_ttl_seconds,
        ),
        site_url=settings.site_url,
    )
