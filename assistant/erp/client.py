"""HTTP client for the ERP order API (the demo ERP serves the same API).

Retries server errors (5xx), dropped connections and timeouts a few times with a short back-off;
everything else fails at once with a named error. The token goes into one request header and
nowhere else: not into errors, logs or ``repr``. Credentials written into the base URL
(``http://user:pass@erp.internal/``, ``?token=...``) are sent (as Basic auth, as query parameters)
but shown nowhere: messages name the ERP by its URL without them (``http://erp.internal/?token=***``),
and text the ERP sends back is scrubbed of every credential before it goes into an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr, ValidationError

from assistant.erp.models import Order, OrderSummary
from assistant.errors import AssistantError
from assistant.telemetry import ERP_REQUESTS, ERP_SECONDS, Tally, Telemetry

log = logging.getLogger(__name__)


class ERPError(AssistantError):
    """The ERP could not answer; the message says what to check."""


class ERPUnavailable(ERPError):
    """The ERP did not answer usefully: unreachable, too slow, or failing with 5xx after retries."""


class ERPTimeout(ERPUnavailable):
    """The ERP did not answer within the timeout (after retries)."""


class ERPAuthError(ERPError):
    """The ERP refused the token (401/403)."""


class ERPBadResponse(ERPError):
    """The ERP answered something that is not the expected JSON."""


class OrderNotFound(ERPError):
    """No order with this number exists in the ERP."""

    def __init__(self, order_no: str):
        self.order_no = order_no
        super().__init__(f"order {order_no} was not found in the ERP; check the order number")


@dataclass(frozen=True)
class ERPAddress:
    """A configured ERP URL taken apart: where requests go, how to show it, what it carries."""

    url: str  # scheme://host[:port]/path: no user:password@, no query
    shown: str  # the same with query parameter names kept and values hidden: for messages and logs
    auth: tuple[str, str] | None  # user and password written into the URL
    params: tuple[tuple[str, str], ...]  # query parameters written into the URL (tokens, often)
    secrets: tuple[str, ...]  # every credential, for scrubbing text
    problem: str | None = None  # why requests cannot go anywhere (said without the URL)

    @classmethod
    def parse(cls, base_url: str) -> ERPAddress:
        """The parts of ``base_url``; one that is not an http(s) URL gets a ``problem`` instead."""
        try:
            parts = urlsplit(base_url.strip())
            port = parts.port
        except ValueError:
            parts, port = None, None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            problem = "ASSISTANT_ERP__BASE_URL is not an http(s) URL with a host (not shown: it may hold a password)"
            return cls(url="", shown="(an invalid URL)", auth=None, params=(), secrets=(base_url,), problem=problem)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = f"{host}:{port}" if port else host
        path = parts.path.rstrip("/")
        params = tuple(parse_qsl(parts.query, keep_blank_values=True))
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        shown_query = "&".join(f"{name}=***" for name, _ in params)
        return cls(
            url=urlunsplit((parts.scheme, netloc, path, "", "")),
            shown=urlunsplit((parts.scheme, netloc, path, shown_query, "")),
            auth=(user, password) if user or password else None,
            params=params,
            secrets=tuple(v for v in {user, password, parts.username, parts.password, *(v for _, v in params)} if v),
        )


class ERPClient:
    """Order lookups against ``{base_url}/api/v1``."""

    def __init__(
        self,
        base_url: str,
        token: SecretStr | str | None,
        *,
        timeout: float = 3.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        telemetry: Telemetry | None = None,
    ):
        self.telemetry = telemetry or Tally()  # every call's operation, outcome and duration
        address = ERPAddress.parse(base_url)
        self.base_url = address.shown  # what messages call this ERP: no credentials
        self._problem = address.problem
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._secrets = sorted({*address.secrets, *([secret] if secret else [])}, key=len, reverse=True)
        headers = {"accept": "application/json"}
        if secret:
            headers["authorization"] = f"Bearer {secret}"
        if address.params:
            # httpx logs every request URL at INFO, query string included: keep it quiet (as connectors do).
            logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        self._http = httpx.Client(
            base_url=f"{address.url or 'http://invalid'}/api/v1", headers=headers, timeout=timeout,
            transport=transport, auth=httpx.BasicAuth(*address.auth) if address.auth else None,
            params=address.params or None,
        )

    def _scrub(self, text: str) -> str:
        """``text`` (from the ERP, or about its reply) with every credential replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        return f"ERPClient(base_url={self.base_url!r}, timeout={self.timeout}, retries={self.retries})"

    def get_order(self, order_no: str) -> Order:
        """One order with items, shipping, invoice and refund; `OrderNotFound` if there is none."""
        with self._measured("get_order"):
            response = self._get(f"/orders/{quote(order_no, safe='')}")
            if response.status_code == 404:
                raise OrderNotFound(order_no)
            return self._parse(response, Order)

    def list_orders(self, customer_id: str) -> list[OrderSummary]:
        """A customer's orders, newest first."""
        with self._measured("list_orders"):
            response = self._get(f"/customers/{quote(customer_id, safe='')}/orders")
            if response.status_code == 404:
                return []
            data = self._json(response)
            problem = ""
            try:
                return [OrderSummary.model_validate(row) for row in data]
            except (ValidationError, TypeError) as exc:
                problem = _shape_problem(exc)
            # raised outside the except block: the validation error (which quotes the reply) is not attached
            raise ERPBadResponse(
                f"ERP at {self.base_url} sent an order list in an unexpected shape: {self._scrub(problem)}")

    def close(self) -> None:
        self._http.close()

    # -- transport ---------------------------------------------------------------------------
    @contextmanager
    def _measured(self, operation: str) -> Iterator[None]:
        """Count one call by its outcome and time it (retries included)."""
        started = time.perf_counter()
        outcome = "error"
        try:
            yield
            outcome = "ok"
        except ERPError as exc:
            outcome = next((name for kind, name in _OUTCOMES if isinstance(exc, kind)), "error")
            raise
        finally:
            self.telemetry.count(ERP_REQUESTS, operation=operation, outcome=outcome)
            self.telemetry.observe(ERP_SECONDS, time.perf_counter() - started, operation=operation)

    def _get(self, path: str) -> httpx.Response:
        if self._problem:
            raise ERPUnavailable(f"the ERP cannot be asked: {self._problem}")
        last: str = ""
        timed_out = False
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * attempt)
            try:
                response = self._http.get(path)
            except httpx.TimeoutException:
                timed_out, last = True, f"no answer within {self.timeout:g} s"
            except httpx.RequestError as exc:  # connection, protocol, decoding: named by its kind only
                timed_out, last = False, f"connection failed ({exc.__class__.__name__})"
            else:
                if response.status_code < 500:
                    if response.status_code in (401, 403):
                        raise ERPAuthError(
                            f"ERP at {self.base_url} refused the credentials ({response.status_code}); "
                            "check ASSISTANT_ERP__TOKEN (and any user:password in ASSISTANT_ERP__BASE_URL)"
                        )
                    return response
                timed_out, last = False, f"server error {response.status_code}"
            log.warning("ERP at %s: %s attempt %d/%d: %s", self.base_url, path, attempt + 1, self.retries + 1, last)
        error = ERPTimeout if timed_out else ERPUnavailable
        raise error(
            f"ERP at {self.base_url} is unavailable: {last} after {self.retries + 1} attempts; "
            "check that it is running (`assistant erp-demo` for the demo) and ASSISTANT_ERP__BASE_URL"
        )

    def _json(self, response: httpx.Response):
        if response.status_code != 200:
            detail = self._scrub(response.text)[:200]  # scrubbed whole: a cut must not leave half a secret
            raise ERPBadResponse(f"ERP at {self.base_url} answered {response.status_code}: {detail}")
        try:
            return response.json()
        except ValueError:
            pass
        raise ERPBadResponse(f"ERP at {self.base_url} answered with something that is not JSON")

    def _parse(self, response: httpx.Response, model: type[Order]) -> Order:
        data = self._json(response)
        problem = ""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            problem = _shape_problem(exc)
        raise ERPBadResponse(f"ERP at {self.base_url} sent an order in an unexpected shape: {self._scrub(problem)}")


# Most specific first: a timeout is also "unavailable".
_OUTCOMES: tuple[tuple[type[ERPError], str], ...] = (
    (OrderNotFound, "not_found"), (ERPTimeout, "timeout"), (ERPUnavailable, "unavailable"), (ERPAuthError, "auth"),
    (ERPBadResponse, "bad_response"),
)


def _shape_problem(exc: Exception) -> str:
    """What is wrong with a reply, by field, without quoting it (values may hold credentials or personal data)."""
    if not isinstance(exc, ValidationError):
        return type(exc).__name__
    errors = exc.errors(include_input=False, include_url=False)
    said = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'the reply'}: {e['msg']}" for e in errors[:5])
    return said + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")
