"""HTTP transport: one pooled ``requests.Session``, timeouts, retries, error mapping, logging.

The transport knows Voucherify's conventions (auth headers, error bodies, rate-limit headers) and
nothing about endpoints; :mod:`.resources` build paths and bodies and call :meth:`Transport.request`.
"""

from __future__ import annotations

import email.utils
import logging
import math
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, cast
from urllib.parse import urlencode

import requests
from requests.structures import CaseInsensitiveDict

from .. import __version__
from ..secret import Secret, masked_url
from .bodies import error_body, read_body, success_body
from .encoding import Params, encode_path, encode_query
from .errors import (
    APIError,
    InvalidResponseError,
    RateLimitedError,
    TransportError,
    VoucherifyError,
    error_class_for,
)
from .pooling import PooledAdapter
from .redaction import TokenAuth, clear_frames_below, redact
from .retry import RetryPolicy
from .transport_failures import IN_FLIGHT_ERRORS, never_sent, transport_error

logger = logging.getLogger("django_voucherify")

USER_AGENT = f"django-voucherify/{__version__} python-requests/{requests.__version__}"

__all__ = ["USER_AGENT", "Params", "Transport", "encode_path", "encode_query"]


#: The longest wait a ``Retry-After`` is taken for: an infinite or enormous one (a gateway's
#: mistake, a date centuries ahead) would put the work off for ever, and overflowed the schedules
#: built from it (``now + timedelta``: the task that met it crashed, its rows left in progress).
MAX_RETRY_AFTER = 86400.0


def _retry_after(response: requests.Response) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``X-Rate-Limit-Retry``, at
    most :data:`MAX_RETRY_AFTER`; a value that is neither (NaN, a stray comma) is ignored."""
    for header in ("Retry-After", "X-Rate-Limit-Retry"):
        raw = response.headers.get(header)
        seconds = _seconds(raw) if raw else None
        if seconds is not None:
            return min(max(0.0, seconds), MAX_RETRY_AFTER)
    return None


def _seconds(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        if "," not in raw:
            return None
        try:
            parsed = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
        return parsed.timestamp() - time.time()
    return None if math.isnan(value) else value


_JSON_HEADERS = {"Content-Type": "application/json"}


class Transport:
    """Sends requests to one Voucherify project; thread-safe (requests' pool is)."""

    def __init__(
        self,
        *,
        app_id: str,
        secret_key: str | Secret,
        api_url: str,
        download_url: str | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 20.0,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        pool_size: int = 10,
        trust_env: bool = False,
        proxies: Mapping[str, str] | None = None,
        verify: bool | str = True,
        log_bodies: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.download_url = (download_url or _download_url_for(self.api_url)).rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry or RetryPolicy()
        self.log_bodies = log_bodies
        self._sleep = sleep
        # The token is a Secret everywhere (here, in every header dict, prepared request and
        # urllib3/http.client frame): masked when shown, materialised by http.client only.
        self._token = Secret.wrap(secret_key)
        self._headers: dict[str, str | Secret] = {
            "X-App-Id": app_id,
            "X-App-Token": self._token,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        self.session = session or self._new_session(pool_size, trust_env, proxies, verify)

    def __repr__(self) -> str:  # never show the token, nor a password in the URL
        return f"<Transport {masked_url(self.api_url)} app_id={self._headers['X-App-Id']!r}>"

    @staticmethod
    def _new_session(
        pool_size: int, trust_env: bool, proxies: Mapping[str, str] | None, verify: bool | str
    ) -> requests.Session:
        session = requests.Session()
        session.trust_env = trust_env
        session.verify = verify
        if proxies:
            session.proxies.update(proxies)
        # Retries are ours (with a budget and POST safety), so urllib3's own are off.
        adapter = PooledAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
        base_url: str | None = None,
        stream: bool = False,
    ) -> Any:
        """Send one API call and return the parsed JSON object (``None`` for a 204 or a delete).

        ``data`` may be bytes or an object with ``rewind()`` (a streamed upload); it is re-sent
        only after a failure that provably never reached the server. ``retry=False`` sends the
        request exactly once (used for redeem). With ``stream=True`` the raw
        :class:`requests.Response` is returned for the caller to consume and close.

        Every failure is raised from this frame, outside any ``except`` block: the error has no
        ``__cause__``/``__context__`` and no frame below this one (requests, urllib3 and
        http.client frames, whose locals hold the request and its headers) stays reachable from
        it. See "Secrets" in docs/client.md.
        """
        url = (base_url or self.api_url) + path
        query = encode_query(params)
        if json is not None:
            headers = {**headers, "Content-Type": "application/json"} if headers else _JSON_HEADERS
        policy = self.retry
        started = time.monotonic()
        retry_number = 0
        while True:
            attempt_started = time.monotonic()
            result = self._exchange(method, url, path, query, json, data, headers, stream)
            if isinstance(result, TransportError):  # no usable response
                error: VoucherifyError = result
                status: int | None = None
                delay = policy.backoff(retry_number)
                sent = result.request_sent
            else:
                response = result
                status = response.status_code
                elapsed_ms = (time.monotonic() - attempt_started) * 1000
                if status < 400:
                    self._log_response(method, path, response, elapsed_ms, json)
                    if stream and status < 300:
                        return response
                    body = self._parse_body(response, method, path)
                    if not isinstance(body, InvalidResponseError):
                        return body
                    error, status, sent = body, None, True  # received, maybe applied: unknown
                    delay = policy.backoff(retry_number)
                else:
                    api_error = self._api_error(response, method, path)
                    retry_after = api_error.retry_after if isinstance(api_error, RateLimitedError) else None
                    delay = retry_after if retry_after is not None else policy.backoff(retry_number)
                    self._log_response(method, path, response, elapsed_ms, json, error=api_error)
                    error, sent = api_error, True
                response.close()
                del response, result
            if (
                retry
                and self._can_retry(method, status, sent, retry_number, started, delay)
                and _rewind(data)
            ):
                self._log_retry(
                    method, path, str(error) if status is None else f"HTTP {status}", delay, retry_number
                )
                self._sleep(delay)
                retry_number += 1
                continue
            if not isinstance(error, APIError):
                logger.warning("voucherify %s %s failed: %s", method, path, error)
            raise error

    def _exchange(
        self,
        method: str,
        url: str,
        path: str,
        query: list[tuple[str, str]],
        json: Any,
        data: Any,
        headers: Mapping[str, str] | None,
        stream: bool,
    ) -> requests.Response | TransportError:
        """:meth:`_send`, with every failure below turned into a :class:`TransportError` that is
        returned (not raised) so that the frames under this one, and the original exception
        with its chain, are dropped here.

        Only the failures of a request in flight are mapped (requests' and urllib3's errors,
        ``OSError``, ``http.client``'s, and ``ValueError``, which http.client raises quoting an
        invalid header value, i.e. the token). Anything else (a bug, ``KeyboardInterrupt``,
        Celery's soft time limit) propagates unchanged, after the locals of the frames under
        this one are cleared.
        """
        try:
            return self._send(method, url, query, json, data, headers, stream)
        except IN_FLIGHT_ERRORS as exc:
            return transport_error(exc, method, path, sent=not never_sent(exc))
        except BaseException as exc:
            clear_frames_below(exc, sys._getframe())
            raise

    def _send(
        self,
        method: str,
        url: str,
        query: list[tuple[str, str]],
        json: Any,
        data: Any,
        headers: Mapping[str, str] | None,
        stream: bool,
    ) -> requests.Response:
        """One HTTP exchange through the session's mounted adapter.

        ``Session.request`` re-merges session settings, cookies, hooks and environment on every
        call and re-parses the URL; none of it applies to an API client with fixed headers and no
        cookies, and it is most of requests' CPU cost per call. So the request is prepared here
        (URL and body encoded exactly as requests would) and handed to the adapter mounted for
        the URL: pooling, TLS settings, proxies and mounted test adapters all still apply. With
        ``trust_env`` the environment (proxies, CA bundle) must be read, so requests does it all;
        the token then joins the headers through an auth hook, past requests' header checks
        (which accept only str and bytes, not a :class:`Secret`).
        """
        session = self.session
        if session.trust_env:
            plain = {k: str(v) for k, v in self._headers.items() if k != "X-App-Token"}
            response = session.request(
                method,
                url,
                params=query,
                json=json,
                data=data,
                headers={**plain, **headers} if headers else plain,
                timeout=self.timeout,
                stream=True,  # the body is read below, in one go
                allow_redirects=False,
                auth=TokenAuth(self._token),
            )
            if not stream:
                read_body(response)
            return response
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = f"{url}?{urlencode(query)}" if query else url
        # A Secret stands where requests' stubs say str: http.client encodes either alike.
        prepared.headers = CaseInsensitiveDict(
            cast(Mapping[str, str], {**session.headers, **self._headers, **(headers or {})})
        )
        prepared.prepare_body(data, None, json)
        prepared.hooks = {"response": []}
        adapter = session.get_adapter(prepared.url)
        response = adapter.send(
            prepared,
            stream=stream,
            timeout=self.timeout,
            verify=True if session.verify is None else session.verify,
            cert=session.cert,
            proxies=session.proxies,
        )
        if not stream:
            read_body(response)  # now, as Session.send does, but in one read (see read_body)
        return response

    def _can_retry(
        self, method: str, status: int | None, sent: bool, retry_number: int, started: float, delay: float
    ) -> bool:
        policy = self.retry
        if retry_number >= policy.max_retries:
            return False
        if not policy.may_retry(method, status=status, request_sent=sent):
            return False
        # The next attempt must start within the budget, or it is not worth waiting for.
        return (time.monotonic() - started) + delay <= policy.budget

    def _parse_body(self, response: requests.Response, method: str, path: str) -> Any:
        return success_body(response, method, path, self._token)

    def _api_error(self, response: requests.Response, method: str, path: str) -> APIError:
        body = error_body(response, self._token)
        cls = error_class_for(response.status_code)
        headers = {"x-request-id": response.headers.get("X-Request-Id", "")}
        if cls is RateLimitedError:
            return RateLimitedError(
                response.status_code,
                body,
                retry_after=_retry_after(response),
                method=method,
                path=path,
                headers=headers,
            )
        return cls(response.status_code, body, method=method, path=path, headers=headers)

    def _log_response(
        self,
        method: str,
        path: str,
        response: requests.Response,
        elapsed_ms: float,
        sent_json: Any,
        error: APIError | None = None,
    ) -> None:
        status = response.status_code
        level = (
            logging.DEBUG
            if status < 400
            else (logging.WARNING if status >= 500 or status == 429 else logging.INFO)
        )
        if not logger.isEnabledFor(level):
            return
        request_id = error.request_id if error else response.headers.get("X-Request-Id")
        logger.log(
            level,
            "voucherify %s %s -> %s in %.0f ms request_id=%s",
            method,
            path,
            status,
            elapsed_ms,
            request_id,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": elapsed_ms,
                "request_id": request_id,
            },
        )
        if self.log_bodies and logger.isEnabledFor(logging.DEBUG):
            logger.debug("voucherify %s %s request body: %s", method, path, sent_json)
            if not response.raw or not getattr(response, "_content_consumed", True):
                return
            logger.debug(
                "voucherify %s %s response body: %s", method, path, redact(response.text[:4000], self._token)
            )

    @staticmethod
    def _log_retry(method: str, path: str, why: str, delay: float, retry_number: int) -> None:
        logger.warning("voucherify %s %s: %s, retry %d in %.2f s", method, path, why, retry_number + 1, delay)


def _rewind(data: Any) -> bool:
    """Make ``data`` ready to be sent again; False when it cannot be (a half-read stream)."""
    rewind = getattr(data, "rewind", None)
    if callable(rewind):
        return bool(rewind())
    return not (hasattr(data, "read") or hasattr(data, "__next__"))


def _download_url_for(api_url: str) -> str:
    """Voucherify serves export files from ``download.`` beside ``api.`` on each cluster."""
    if ".api.voucherify.io" in api_url or "//api.voucherify.io" in api_url:
        return api_url.replace("api.voucherify.io", "download.voucherify.io")
    return api_url
