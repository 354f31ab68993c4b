"""Why a capture request is refused, in the terms PostHog's capture endpoint answers with."""


class CaptureError(Exception):
    """A refused capture request; the API turns it into `{type, code, detail, attr}` with `status_code`."""

    def __init__(self, status_code: int, type: str, code: str, detail: str) -> None:
        self.status_code = status_code
        self.type = type
        self.code = code
        self.detail = detail
        super().__init__(detail)


def invalid_payload(reason: str) -> CaptureError:
    return CaptureError(400, "validation_error", "invalid_payload", f"Malformed request data: {reason}")


def no_data() -> CaptureError:
    return CaptureError(
        400,
        "validation_error",
        "no_data",
        "No data found. Make sure to use a POST request when sending the payload in the body of the request.",
    )


def missing_token() -> CaptureError:
    return CaptureError(
        401,
        "authentication_error",
        "missing_api_key",
        "API key not provided. You can find your project API key in your PostHog project settings.",
    )


def invalid_token() -> CaptureError:
    return CaptureError(
        401,
        "authentication_error",
        "invalid_api_key",
        "Project API key invalid. You can find your project API key in your PostHog project settings.",
    )
