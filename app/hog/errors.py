"""Exceptions raised by the Hog VM.

Every runtime failure is a :class:`HogVMError` whose ``str()`` is the message PostHog prints.
Limit breaches use subclasses so hosts can tell a hostile program from a buggy one, and a Hog
error that no ``try/catch`` handled surfaces as :class:`UncaughtHogError`.
"""

from __future__ import annotations

from typing import Any


class HogVMError(Exception):
    """A runtime error of the VM itself (bad types, missing globals, limits...).

    These are host exceptions: Hog code cannot catch them with ``try/catch``. ``prints`` holds
    the lines printed before the failure and ``ops`` the instructions executed.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.prints: list[str] = []
        self.ops = 0


class HogLimitError(HogVMError):
    """A resource limit (time, memory, call depth, steps, async steps) was exceeded."""


class HogTimeoutError(HogLimitError):
    pass


class HogMemoryError(HogLimitError):
    pass


class HogStackOverflowError(HogLimitError):
    pass


class HogStepLimitError(HogLimitError):
    pass


class UncaughtHogError(HogVMError):
    """A Hog error object was thrown and no handler caught it.

    ``str()`` mirrors PostHog's ``Type('message')`` form; the parts stay accessible.
    """

    def __init__(self, type: str, message: str, payload: Any = None) -> None:
        self.type = type
        self.message = message
        self.payload = payload
        super().__init__(message)

    def __str__(self) -> str:
        # Imported lazily: printing depends on values, which would import this module.
        from app.hog.printing import print_hog_value

        return print_hog_value(self.error_object())

    def error_object(self) -> dict[str, Any]:
        """The thrown value as a Hog error dict."""
        return {"__hogError__": True, "type": self.type, "message": self.message, "payload": self.payload}
