"""HTTP transport: one pooled ``requests.Session``, timeouts, retries, error mapping, logging.

The transport knows Voucherify's conventions (auth headers, error bodies, rate-limit headers) and
nothing about endpoints; :mod:`.resources` build paths and bodies and call :meth:`Transport.request`.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast
from urllib.parse import quote, urlencode

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import NewConnectionError

from .. import __version__
from .errors import APIError, RateLimitedError, RequestTimeout, TransportError, error_class_for
from .retry import RetryPolicy

logger = logging.getLogger("django_voucherify")

USER_AGENT = f"django-voucherify/{__version__} python-requests/{requests.__version__}"

Params = Mapping[str, Any] | Iterable[tuple[str, Any]] | None


def encode_path(template: str, *values: str) -> str:
    """Fill ``{}`` slots of ``template`` with percent-encoded values (``/``, ``?``, ``#`` too).

    Codes are arbitrary strings: ``A/B?C#D%E ü`` must reach the server as one path segment.
    ``""``, ``"."`` and ``".."`` cannot: HTTP libraries drop or resolve them, which would address
    another resource (``DELETE .../sessions/..`` deleting the voucher), so they are refused.
    """
    for value in values:
        if str(value) in ("", ".", ".."):
            raise ValueError(f"{value!r} cannot be used as a Voucherify identifier in a URL path")
    return template.format(*(quote(str(v), safe="") for v in values))


def encode_query(params: Params) -> list[tuple[str, str]]:
    """Flatten query parameters the way Voucherify (qs) reads them.

    Nested dicts use deepObject style (``created_at[before]=...``,
    ``filters[code][conditions][$in][0]=A``); a top-level list repeats the key (``ids=a&ids=b``);
    booleans are ``true``/``false``; ``None`` values are left out.
    """
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    out: list[tuple[str, str]] = []
    for key, value in items:
        if isinstance(value, list | tuple):
            for item in value:
                _flatten(out, key, item)
        else:
            _flatten(out, key, value)
    return out


def _flatten(out: list[tuple[str, str]], key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        for sub_key, sub_value in value.items():
            _flatten(out, f"{key}[{sub_key}]", sub_value)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _flatten(out, f"{key}[{index}]", item)
    elif isinstance(value, bool):
        out.append((key, "true" if value else "false"))
    elif hasattr(value, "isoformat"):
        out.append((key, value.isoformat()))
    else:
        out.append((key, str(value)))


def _retry_after(response: requests.Response) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``X-Rate-Limit-Retry``."""
    for header in ("Retry-After", "X-Rate-Limit-Retry"):
        raw = response.headers.get(header)
        if not raw:
            continue
        try:
            return max(0.0, float(raw))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(raw) if "," in raw else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - time.time())
    return None


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the connection provably never opened, so the server saw nothing."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the cause
    return isinstance(reason, NewConnectionError)


class Transport:
    """Sends requests to one Voucherify project; thread-safe (requests' pool is)."""

    def __init__(
        self,
        *,
        app_id: str,
        secret_key: str,
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
        self._headers = {
            "X-App-Id": app_id,
            "X-App-Token": secret_key,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        self.session = session or self._new_session(pool_size, trust_env, proxies, verify)

    def __repr__(self) -> str:  # never show the token
        return f"<Transport {self.api_url} app_id={self._headers['X-App-Id']!r}>"

    @staticmethod
    def _new_session(pool_size: int, trust_env: bool, proxies: Mapping[str, str] | None,
                     verify: bool | str) -> requests.Session:
        session = requests.Session()
        session.trust_env = trust_env
        session.verify = verify
        if proxies:
            session.proxies.update(proxies)
        # Retries are ours (with a budget and POST safety), so urllib3's own are off.
        adapter = _PooledAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
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
        """Send one API call and return the parsed JSON (``None`` for an empty body).

        ``data`` may be bytes or an object with ``rewind()`` (a streamed upload); it is re-sent
        only after a failure that provably never reached the server. ``retry=False`` sends the
        request exactly once (used for redeem). With ``stream=True`` the raw
        :class:`requests.Response` is returned for the caller to consume and close.
        """
        url = (base_url or self.api_url) + path
        query = encode_query(params)
        send_headers = self._headers if not headers else {**self._headers, **headers}
        if json is not None:
            send_headers = {**send_headers, "Content-Type": "application/json"}
        policy = self.retry
        started = time.monotonic()
        retry_number = 0
        while True:
            attempt_started = time.monotonic()
            try:
                response = self._send(method, url, query, json, data, send_headers, stream)
            except requests.RequestException as exc:
                sent = not _never_sent(exc)
                error = self._transport_error(exc, method, path, sent)
                delay = policy.backoff(retry_number)
                if (retry and self._can_retry(method, None, sent, retry_number, started, delay)
                        and _rewind(data)):
                    self._log_retry(method, path, str(error), delay, retry_number)
                    self._sleep(delay)
                    retry_number += 1
                    continue
                logger.warning("voucherify %s %s failed: %s", method, path, error)
                # requests attaches the prepared request (and so the X-App-Token header) to its
                # exception; the chained cause must not carry the secret around.
                exc.request = None
                raise error from exc
            elapsed_ms = (time.monotonic() - attempt_started) * 1000
            status = response.status_code
            if status < 400:
                self._log_response(method, path, response, elapsed_ms, json)
                if stream:
                    return response
                return _parse_body(response)
            api_error = self._api_error(response, method, path)
            retry_after = api_error.retry_after if isinstance(api_error, RateLimitedError) else None
            delay = retry_after if retry_after is not None else policy.backoff(retry_number)
            self._log_response(method, path, response, elapsed_ms, json, error=api_error)
            if (retry and self._can_retry(method, status, True, retry_number, started, delay)
                    and _rewind(data)):
                self._log_retry(method, path, f"HTTP {status}", delay, retry_number)
                response.close()
                self._sleep(delay)
                retry_number += 1
                continue
            raise api_error

    def _send(self, method: str, url: str, query: list[tuple[str, str]], json: Any, data: Any,
              headers: Mapping[str, str], stream: bool) -> requests.Response:
        """One HTTP exchange through the session's mounted adapter.

        ``Session.request`` re-merges session settings, cookies, hooks and environment on every
        call and re-parses the URL; none of it applies to an API client with fixed headers and no
        cookies, and it is most of requests' CPU cost per call. So the request is prepared here
        (URL and body encoded exactly as requests would) and handed to the adapter mounted for
        the URL: pooling, TLS settings, proxies and mounted test adapters all still apply. With
        ``trust_env`` the environment (proxies, CA bundle) must be read, so requests does it all.
        """
        session = self.session
        if session.trust_env:
            return session.request(method, url, params=query, json=json, data=data,
                                   headers=headers, timeout=self.timeout, stream=stream,
                                   allow_redirects=False)
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = f"{url}?{urlencode(query)}" if query else url
        prepared.headers = CaseInsensitiveDict(
            {**cast(Mapping[str, str], session.headers), **headers})
        prepared.prepare_body(data, None, json)
        prepared.hooks = {"response": []}
        adapter = session.get_adapter(prepared.url)
        response = adapter.send(prepared, stream=stream, timeout=self.timeout,
                                verify=True if session.verify is None else session.verify,
                                cert=session.cert, proxies=session.proxies)
        if not stream:
            response.content  # noqa: B018  (read the body now, as Session.send does)
        return response

    def _can_retry(self, method: str, status: int | None, sent: bool, retry_number: int,
                   started: float, delay: float) -> bool:
        policy = self.retry
        if retry_number >= policy.max_retries:
            return False
        if not policy.may_retry(method, status=status, request_sent=sent):
            return False
        # The next attempt must start within the budget, or it is not worth waiting for.
        return (time.monotonic() - started) + delay <= policy.budget

    @staticmethod
    def _transport_error(exc: requests.RequestException, method: str, path: str,
                         sent: bool) -> TransportError:
        if isinstance(exc, requests.Timeout):
            kind = "connect" if isinstance(exc, requests.ConnectTimeout) else "read"
            return RequestTimeout(f"Voucherify {kind} timeout", method=method, path=path,
                                  request_sent=sent)
        reason = type(exc).__name__
        return TransportError(f"Voucherify unreachable: {reason}", method=method, path=path,
                              request_sent=sent)

    @staticmethod
    def _api_error(response: requests.Response, method: str, path: str) -> APIError:
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:500] or response.reason}
        cls = error_class_for(response.status_code)
        headers = {"x-request-id": response.headers.get("X-Request-Id", "")}
        if cls is RateLimitedError:
            return RateLimitedError(response.status_code, body, retry_after=_retry_after(response),
                                    method=method, path=path, headers=headers)
        return cls(response.status_code, body, method=method, path=path, headers=headers)

    def _log_response(self, method: str, path: str, response: requests.Response,
                      elapsed_ms: float, sent_json: Any, error: APIError | None = None) -> None:
        status = response.status_code
        level = logging.DEBUG if status < 400 else (
            logging.WARNING if status >= 500 or status == 429 else logging.INFO)
        if not logger.isEnabledFor(level):
            return
        request_id = error.request_id if error else response.headers.get("X-Request-Id")
        logger.log(level, "voucherify %s %s -> %s in %.0f ms request_id=%s", method, path,
                   status, elapsed_ms, request_id,
                   extra={"method": method, "path": path, "status": status,
                          "duration_ms": elapsed_ms, "request_id": request_id})
        if self.log_bodies and logger.isEnabledFor(logging.DEBUG):
            logger.debug("voucherify %s %s request body: %s", method, path, sent_json)
            if not response.raw or not getattr(response, "_content_consumed", True):
                return
            logger.debug("voucherify %s %s response body: %s", method, path, response.text[:4000])

    @staticmethod
    def _log_retry(method: str, path: str, why: str, delay: float, retry_number: int) -> None:
        logger.warning("voucherify %s %s: %s, retry %d in %.2f s", method, path, why,
                       retry_number + 1, delay)


class _PooledAdapter(HTTPAdapter):
    """``HTTPAdapter`` minus per-call work an API client does not need.

    requests looks the urllib3 pool up again on every call (URL parsing, pool-key
    normalisation) and runs the response through a cookie jar; the client talks to one or two
    fixed origins, and Voucherify sets no cookies. Pools are cached per origin and TLS settings
    (refreshed if urllib3 closed one), and responses skip the cookie jar.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: dict[tuple[Any, ...], Any] = {}

    def get_connection_with_tls_context(self, request: requests.PreparedRequest, verify: Any,
                                        proxies: Mapping[str, str] | None = None,
                                        cert: Any = None) -> Any:
        if proxies:  # proxy selection depends on the URL: leave it all to requests
            return super().get_connection_with_tls_context(request, verify, dict(proxies), cert)
        origin = "/".join(str(request.url).split("/", 3)[:3])
        key = (origin, verify, cert)
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # first use, or closed by the pool manager
            pool = super().get_connection_with_tls_context(request, verify, None, cert)
            self._pools[key] = pool
        return pool

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = str(req.url)
        response.request = req
        response.connection = self
        return response

    def close(self) -> None:
        self._pools.clear()
        super().close()


def _parse_body(response: requests.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    if "json" in response.headers.get("Content-Type", "json"):
        return response.json()
    return response.text


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
