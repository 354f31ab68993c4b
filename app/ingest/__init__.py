"""Events in: PostHog SDK payloads and public webhooks start runs of flows.

- `payloads` decodes capture bodies (JSON, batch, gzip, base64, form `data=`) into raw events;
- `events` validates and normalises one event, and builds the `state.event` a run keeps;
- `persons` applies `$set` / `$set_once` / `$identify` / `$create_alias` through the persons repository;
- `flows` caches each team's active event-triggered flows;
- `masking` and `stores` (+ `redis_store`) hold trigger masking and the per-flow token bucket;
- `pipeline` runs the trigger pipeline for one request's events;
- `webhooks` + `webhook_trigger` turn a webhook / pixel request into a run;
- `enqueue` hands created runs to the workers after commit; `services` wires it all for an app.
"""
