"""Secret inputs of function steps: masked on every read, kept when a client sends the mask back.

1. An input is secret when its template's `inputs_schema` (or the action's own `inputs_schema`)
   marks it `secret: true`. Function steps (`function*`) and function-shaped triggers
   (`webhook`, `manual`, `tracking_pixel`) have templates; other actions have no secrets.
2. Reading a flow (list and detail) replaces each set secret input with `{"secret": true}`, in
   `actions` and in the derived `trigger`, as PostHog does. The stored flow is not changed.
3. Writing a flow: a secret input sent back as `{"secret": true}` (no `value`) takes the stored
   input of the action with the same id; when there is none the key is dropped, so the marker
   itself is never stored (PostHog's `recover_or_drop_masked_inputs`).
4. `strip_secret_inputs` removes secret inputs entirely, for snapshots such as revisions.
5. At rest a set secret input is sealed in place: `inputs.<key>` is `{"$fernet": token}`, the whole
   entry (value, compiled bytecode, order) encrypted with `HOGFLOWS_SECRET_KEY` (`app.crypto`). So the
   row, its draft, its revisions and the runs' snapshots of it hold ciphertext only. A save opens the
   stored entries to validate them (`open_secret_inputs`) and seals the result (`seal_secret_inputs`),
   keeping the stored token of an unchanged entry so a no-op save is still a no-op. Only the step that
   runs (function runner, webhook source) decrypts.

Difference from PostHog: PostHog moves secret inputs out of `inputs` into an encrypted
`encrypted_inputs` column (HogFunction); here the ciphertext stays where the input was, so drafts,
revisions and the graph a run is pinned to carry it with no second column to keep in step.
"""

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from app.crypto import SecretBox, SecretDecryptionError, is_sealed
from app.engine.templates import get_template
from app.errors import ValidationError

MASK: dict[str, Any] = {"secret": True}
_FUNCTION_TRIGGERS = frozenset({"webhook", "manual", "tracking_pixel"})


def secret_keys_for_action(action: Mapping[str, Any]) -> set[str]:
    config = action.get("config")
    if not isinstance(config, Mapping):
        return set()
    action_type = action.get("type") or ""
    is_function = isinstance(action_type, str) and (
        "function" in action_type or (action_type == "trigger" and config.get("type") in _FUNCTION_TRIGGERS)
    )
    if not is_function:
        return set()
    schemas: list[Any] = []
    template_id = config.get("template_id")
    template = get_template(template_id) if isinstance(template_id, str) else None
    if template is not None:
        schemas.extend(template.inputs_schema)
    if isinstance(config.get("inputs_schema"), list):
        schemas.extend(config["inputs_schema"])
    return {
        item["key"]
        for item in schemas
        if isinstance(item, Mapping) and item.get("secret") is True and isinstance(item.get("key"), str)
    }


def _is_set(value: Any) -> bool:
    if is_sealed(value):
        return True
    if isinstance(value, Mapping):
        return value.get("value") not in (None, "") or bool(value.get("secret"))
    return value not in (None, "")


def _is_mask(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value.get("secret")) and "value" not in value


def _mask_action(action: dict[str, Any]) -> None:
    keys = secret_keys_for_action(action)
    inputs = (action.get("config") or {}).get("inputs")
    if not keys or not isinstance(inputs, dict):
        return
    for key in keys:
        if key in inputs and _is_set(inputs[key]):
            inputs[key] = dict(MASK)


def mask_action_in_place(action: dict[str, Any]) -> None:
    """Mask one action's set secret inputs in the action itself (for JSON decoded for one use)."""
    _mask_action(action)


def mask_secret_actions(actions: Any) -> Any:
    """A copy of `actions` with every set secret input replaced by the mask."""
    if not isinstance(actions, list):
        return actions
    masked = copy.deepcopy(actions)
    for action in masked:
        if isinstance(action, dict):
            _mask_action(action)
    return masked


def masked_action(action: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of one action with its set secret inputs masked."""
    copied = copy.deepcopy(dict(action))
    _mask_action(copied)
    return copied


def mask_secret_inputs(flow: dict[str, Any]) -> dict[str, Any]:
    """Mask a rendered flow (a dict with `actions` and `trigger`) in place and return it."""
    if "actions" in flow:
        flow["actions"] = mask_secret_actions(flow["actions"])
    trigger = flow.get("trigger")
    if isinstance(trigger, dict) and trigger:
        # `trigger` is the trigger action's config: mask it as that action would be.
        masked = mask_secret_actions([{"type": "trigger", "config": trigger}])
        flow["trigger"] = masked[0]["config"]
    return flow


def restore_secret_inputs(old: Iterable[Any] | None, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`new` actions with each masked secret input replaced by the stored one (or dropped)."""
    stored: dict[str, Mapping[str, Any]] = {}
    for action in old or []:
        if isinstance(action, Mapping) and isinstance(action.get("id"), str):
            inputs = (action.get("config") or {}).get("inputs")
            if isinstance(inputs, Mapping):
                stored[action["id"]] = inputs
    for action in new:
        inputs = (action.get("config") or {}).get("inputs")
        if not isinstance(inputs, dict):
            continue
        before = stored.get(action.get("id") or "", {})
        for key in list(inputs):
            if not _is_mask(inputs[key]):
                continue
            if key in before and not _is_mask(before[key]):
                inputs[key] = copy.deepcopy(before[key])
            else:
                del inputs[key]
    return new


def strip_secret_inputs(actions: Any) -> Any:
    """A copy of `actions` without any secret input (for snapshots that must never hold one)."""
    if not isinstance(actions, list):
        return actions
    stripped = copy.deepcopy(actions)
    for action in stripped:
        if not isinstance(action, dict):
            continue
        inputs = (action.get("config") or {}).get("inputs")
        if isinstance(inputs, dict):
            for key in secret_keys_for_action(action):
                inputs.pop(key, None)
    return stripped


Opened = dict[tuple[str, str], tuple[Any, dict[str, str]]]


def open_secret_inputs(actions: list[dict[str, Any]], box: SecretBox) -> Opened:
    """Decrypt every sealed input of `actions` in place; returns what was opened, for `seal_secret_inputs`.

    A sealed value that does not open (sent by a client, or sealed with a key no longer configured) is a 400."""
    opened: Opened = {}
    for index, action in enumerate(actions):
        inputs = (action.get("config") or {}).get("inputs") if isinstance(action, dict) else None
        if not isinstance(inputs, dict):
            continue
        for key, entry in inputs.items():
            if not is_sealed(entry):
                continue
            try:
                inputs[key] = box.open_json(entry)
            except (SecretDecryptionError, ValueError) as error:
                detail = "This secret cannot be decrypted with HOGFLOWS_SECRET_KEY; send its value again."
                raise ValidationError(detail, attr=f"actions__{index}__inputs__{key}") from error
            opened[(str(action.get("id")), key)] = (copy.deepcopy(inputs[key]), entry)
    return opened


def seal_secret_inputs(
    actions: list[dict[str, Any]], box: SecretBox, opened: Opened | None = None
) -> list[dict[str, Any]]:
    """Seal every set secret input of `actions` in place; an entry equal to what was opened keeps its token."""
    for action in actions:
        inputs = (action.get("config") or {}).get("inputs") if isinstance(action, dict) else None
        if not isinstance(inputs, dict):
            continue
        for key in secret_keys_for_action(action):
            entry = inputs.get(key)
            if not isinstance(entry, dict) or is_sealed(entry) or not _is_set(entry):
                continue
            before = (opened or {}).get((str(action.get("id")), key))
            inputs[key] = before[1] if before is not None and before[0] == entry else box.seal_json(entry)
    return actions
