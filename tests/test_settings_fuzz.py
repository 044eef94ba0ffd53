"""Any value of any ``VOUCHERIFY`` option (Hypothesis): the system checks answer with messages
that carry an id and a hint, never an exception; ``conf.get_settings()`` refuses exactly what
the checks report as errors, with the same words; and what they accept builds the client with
the option's documented type (a proxies mapping, a TLS setting that is ``True``, ``False`` or a
CA bundle's path: a ``""``, ``0`` or ``[]`` there switched TLS verification off unreported) and
numbers the app can turn into waits and ages (``inf`` or ``1e300`` seconds passed the checks,
then every step computing a deadline from them raised ``OverflowError``), and the client they
build sends a request: the credentials are headers and ``API_URL`` the request's URL, so a line
break, a control character or a character outside Latin-1 there, or a URL with a space, a
port that is no port or a host that is no host, passed the checks and failed every request."""

from __future__ import annotations

import http.client
import math
import re
from datetime import timedelta

import requests
import urllib3
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_voucherify import conf
from django_voucherify.api import VoucherifyClient
from tests.support.properties import examples

GOOD = {"APP_ID": "id", "SECRET_KEY": "key"}
#: 400 (about 6 s); 5000 on a thorough run (about 40 s).
EXAMPLES = examples(400, 5000)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["", " ", "0", "default", "http://proxy:3128", "https://api.voucherify.io", "EUR"])
    | st.sampled_from(["tok\udc80en", "\ud800"])  # undecodable bytes in os.environ (surrogateescape)
    | st.sampled_from([math.inf, 1e300, 2**63, 10**9 + 1, 999_999_999])  # past what a timedelta holds
)
#: Strings for what goes on the wire: the credentials (headers) and the URLs.
wire_strings = (
    st.text(max_size=30)
    | st.text(st.characters(codec="latin-1"), min_size=1, max_size=12)
    # What a header cannot carry: an env file's line break, an injected header, NUL, DEL, C1,
    # a character outside Latin-1; white space at either end (dropped, then sent).
    | st.sampled_from(["key\n", "id\r\nX-Injected: 1", "a\x00b", "k\x7f", "k\x85", "€uro", " key", "id\t"])
    # URLs urlsplit takes and the HTTP stack refuses (or that urlsplit itself refuses).
    | st.sampled_from(
        [
            "https://api.voucherify.io",
            "https://api.voucherify.io\n",
            "https://api.voucherify.io ",
            "http://127.0.0.1:8100\x7f",
            "https://ex€mple.io",
            "http://[::1",
            "http://[::1]:8100",
            "http://host:99999",
            "http://host:abc",
            "http://:8100",
            "http://.example.io",
            "http://\\host",
            "https://ops:pw@gateway.example",
        ]
    )
    | st.builds("http://127.0.0.1:8100{}".format, st.text(max_size=4))
)
WIRE_OPTIONS = ["APP_ID", "SECRET_KEY", "API_URL", "DOWNLOAD_URL"]
#: JSON-ish values (what an environment reader or a settings file gives), tuples too.
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(["http", "https", "all"]), inner, max_size=4)
        | st.tuples(inner, inner)
    ),
    max_leaves=8,
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # Often one option alone: with several wrong ones, settings() refuses the first, and what the
    # checks accept (the end of the test) is reached less often.
    st.dictionaries(st.sampled_from(sorted(conf.DEFAULTS)), values, min_size=1, max_size=1)
    | st.dictionaries(st.sampled_from(sorted(conf.DEFAULTS)), values, max_size=4)
    # and often a string where it goes on the wire (a header, the request's URL)
    | st.dictionaries(st.sampled_from(WIRE_OPTIONS), wire_strings, min_size=1, max_size=2)
)
def test_any_value_of_any_option_is_a_check_message_and_never_a_crash(options):
    with override_settings(VOUCHERIFY={**GOOD, **options}):
        messages = run_checks(tags=["voucherify"])
        try:
            snapshot = conf.get_settings()
        except ImproperlyConfigured as exc:
            snapshot, refused = None, str(exc)
        else:
            client = VoucherifyClient.from_settings()
            client.transport.session.mount("http://", _Wire())
            client.transport.session.mount("https://", _Wire())
            sent = _send_one(client)
    for message in messages:
        assert message.id and message.id.startswith("voucherify."), message
        assert message.id != "voucherify.E000", message  # "not a dict": a check that failed
        assert message.hint, message
    errors = [m for m in messages if m.is_serious()]
    if snapshot is None:  # the same validator: what settings() refuses, the checks report
        assert any(m.msg in refused for m in errors), (refused, errors)
        return
    for option in conf.OPTIONS:  # every number becomes a wait, an age or a size: it must be one
        value = getattr(snapshot, option.field)
        if option.kind is conf.Kind.NUMBER and value is not None:
            span = timedelta(days=value) if option.name.endswith("_DAYS") else timedelta(seconds=value)
            assert timezone.now() - span < timezone.now() + span or not span, option.name
    session = client.transport.session
    assert (
        session.verify is True
        or session.verify is False
        or (isinstance(session.verify, str) and session.verify)
    )
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in session.proxies.items())
    assert sent == "sent", sent


#: An HTTP field value (RFC 9110) as bytes on the wire: visible characters, spaces and tabs
#: inside, none at either end. Servers answer 400 to a NUL or a DEL, which http.client lets by.
FIELD_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?")


class _Wire(requests.adapters.BaseAdapter):
    """The network, as far as a request gets before its first byte leaves: requests' URL
    preparation (host labels, IDNA), urllib3's URL parser, http.client's checks of the host,
    the request line and each header (and their Latin-1 encoding), then the field-value grammar
    servers enforce. Answers ``200 {}``."""

    def send(self, request, **kwargs):
        requests.PreparedRequest().prepare_url(request.url, None)
        url = urllib3.util.parse_url(request.url)
        connection = http.client.HTTPConnection(url.host, url.port)  # never connected
        connection.putrequest(request.method, request.path_url, skip_host=True, skip_accept_encoding=True)
        headers = {"Host": url.netloc.rpartition("@")[2], **request.headers}
        for name, value in headers.items():
            if isinstance(value, str):
                requests.utils.check_header_validity((name, value))
            connection.putheader(name, value)
            assert FIELD_VALUE.fullmatch(value.encode("latin-1")), name
        response = requests.Response()
        response.status_code, response._content = 200, b"{}"
        response.headers["Content-Type"] = "application/json"
        response.request, response.url = request, request.url
        return response

    def close(self):
        pass


def _send_one(client) -> str:
    """What became of one request (the transport maps whatever the wire refused)."""
    transport = client.transport
    try:
        transport.request("GET", "/v1/ping", retry=False)
        transport.request("GET", "/v1/exports/x", retry=False, base_url=transport.download_url)
    except Exception as exc:  # the test names it: settings accepted, request refused
        return f"{type(exc).__name__}: {exc}"
    return "sent"
