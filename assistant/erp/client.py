"""HTTP client for the ERP order API (the demo ERP serves the same API).

Retries server errors (5xx), dropped connections and timeouts a few times with a short back-off;
everything else fails at once with a named error. The token goes into one request header and
nowhere else: not into errors, logs or ``repr``.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError

from assistant.erp.models import Order, OrderSummary
from assistant.errors import AssistantError

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
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._scrub = (lambda text: text.replace(secret, "***")) if secret else (lambda text: text)
        headers = {"accept": "application/json"}
        if secret:
            headers["authorization"] = f"Bearer {secret}"
        self._http = httpx.Client(
            base_url=f"{self.base_url}/api/v1", headers=headers, timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:
        return f"ERPClient(base_url={self.base_url!r}, timeout={self.timeout}, retries={self.retries})"

    def get_order(self, order_no: str) -> Order:
        """One order with items, shipping, invoice and refund; `OrderNotFound` if there is none."""
        response = self._get(f"/orders/{quote(order_no, safe='')}")
        if response.status_code == 404:
            raise OrderNotFound(order_no)
        return self._parse(response, Order)

    def list_orders(self, customer_id: str) -> list[OrderSummary]:
        """A customer's orders, newest first."""
        response = self._get(f"/customers/{quote(customer_id, safe='')}/orders")
        if response.status_code == 404:
            return []
        data = self._json(response)
        try:
            return [OrderSummary.model_validate(row) for row in data]
        except (ValidationError, TypeError) as exc:
            raise ERPBadResponse(f"ERP at {self.base_url} sent an order list in an unexpected shape: {exc}") from None

    def close(self) -> None:
        self._http.close()

    # -- transport ---------------------------------------------------------------------------
    def _get(self, path: str) -> httpx.Response:
        last: str = ""
        timed_out = False
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * attempt)
            try:
                response = self._http.get(path)
            except httpx.TimeoutException:
                timed_out, last = True, f"no answer within {self.timeout:g} s"
            except httpx.TransportError as exc:
                timed_out, last = False, f"connection failed ({exc.__class__.__name__})"
            else:
                if response.status_code < 500:
                    if response.status_code in (401, 403):
                        raise ERPAuthError(
                            f"ERP at {self.base_url} refused the token ({response.status_code}); "
                            "check ASSISTANT_ERP__TOKEN"
                        )
                    return response
                timed_out, last = False, f"server error {response.status_code}"
            log.warning("ERP %s%s attempt %d/%d: %s", self.base_url, path, attempt + 1, self.retries + 1, last)
        error = ERPTimeout if timed_out else ERPUnavailable
        raise error(
            f"ERP at {self.base_url} is unavailable: {last} after {self.retries + 1} attempts; "
            "check that it is running (`assistant erp-demo` for the demo) and ASSISTANT_ERP__BASE_URL"
        )

    def _json(self, response: httpx.Response):
        if response.status_code != 200:
            detail = self._scrub(response.text[:200])
            raise ERPBadResponse(f"ERP at {self.base_url} answered {response.status_code}: {detail}")
        try:
            return response.json()
        except ValueError:
            raise ERPBadResponse(f"ERP at {self.base_url} answered with something that is not JSON") from None

    def _parse(self, response: httpx.Response, model: type[Order]) -> Order:
        try:
            return model.model_validate(self._json(response))
        except ValidationError as exc:
            raise ERPBadResponse(f"ERP at {self.base_url} sent an order in an unexpected shape: {exc}") from None
