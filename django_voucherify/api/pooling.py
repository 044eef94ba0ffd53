"""The transport's ``HTTPAdapter``: pools cached per origin, no cookie jar."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers


class PooledAdapter(HTTPAdapter):
    """``HTTPAdapter`` minus per-call work an API client does not need.

    requests looks the urllib3 pool up again on every call (URL parsing, pool-key
    normalisation) and runs the response through a cookie jar; the client talks to one or two
    fixed origins, and Voucherify sets no cookies. Pools are cached per origin and TLS settings
    (refreshed if urllib3 closed one), and responses skip the cookie jar.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: dict[tuple[Any, ...], Any] = {}

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
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
