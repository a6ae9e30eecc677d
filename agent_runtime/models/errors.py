"""Model errors: the one error type the rest of the runtime sees, and what a model call's
failure means (one line for the person; whether a fallback model should take over)."""

from __future__ import annotations


class ModelError(RuntimeError):
    """The model cannot be used; the message is one line saying what to do."""


def causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _kinds() -> dict[str, tuple[type[BaseException], ...]]:
    import httpx
    import litellm

    return {
        "auth": (litellm.AuthenticationError,),
        "unreachable": (litellm.APIConnectionError, httpx.ConnectError, ConnectionError),
        "timeout": (litellm.Timeout, httpx.TimeoutException, TimeoutError),
        "unknown_model": (litellm.NotFoundError,),
        "window": (litellm.ContextWindowExceededError,),
        "server": (litellm.ServiceUnavailableError, litellm.InternalServerError, litellm.BadGatewayError),
    }


def kind_of(exc: BaseException) -> str | None:
    kinds = _kinds()
    for err in causes(exc):
        for kind, classes in kinds.items():
            if isinstance(err, classes):
                return kind
        status = getattr(err, "status_code", None)
        if isinstance(status, int) and status >= 500:
            return "server"
    return None


def retryable(exc: BaseException) -> bool:
    """Connection errors, timeouts and 5xx answers move a run to the next model; others do not."""
    return kind_of(exc) in ("unreachable", "timeout", "server")


def describe(exc: BaseException, model_id: str, api_base: str | None) -> str:
    """A model failure as one line: which endpoint, what to do."""
    chain = causes(exc)
    for err in chain:
        if isinstance(err, ModelError):
            return str(err)
    where = api_base or "the provider"
    messages = {
        "auth": f"{where} refused the credentials for {model_id}: set the provider's API key (e.g. OPENAI_API_KEY) "
                "or MODEL_API_KEY",
        "unreachable": f"cannot reach the model {model_id} at {where}: is the server running?",
        "timeout": f"the model {model_id} at {where} did not answer in time (MODEL_TIMEOUT)",
        "unknown_model": f"{where} does not know the model {model_id}: check MODEL_ID",
        "window": "the conversation no longer fits the model's context window: start over (/reset) or raise "
                  "MODEL_CONTEXT_WINDOW",
    }
    kind = kind_of(exc)
    if kind in messages:
        return messages[kind]
    first_line = (str(chain[-1]).strip().splitlines() or [type(chain[-1]).__name__])[0]
    return f"the model call failed: {first_line[:300]}"
