"""Any value of any ``VOUCHERIFY`` option (Hypothesis): the system checks answer with messages
that carry an id and a hint, never an exception; ``conf.get_settings()`` refuses exactly what
the checks report as errors, with the same words; and what they accept builds the client with
the option's documented type (a proxies mapping, a TLS setting that is ``True``, ``False`` or a
CA bundle's path: a ``""``, ``0`` or ``[]`` there switched TLS verification off unreported) and
numbers the app can turn into waits and ages (``inf`` or ``1e300`` seconds passed the checks,
then every step computing a deadline from them raised ``OverflowError``)."""

from __future__ import annotations

import math
from datetime import timedelta

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
)
def test_any_value_of_any_option_is_a_check_message_and_never_a_crash(options):
    with override_settings(VOUCHERIFY={**GOOD, **options}):
        messages = run_checks(tags=["voucherify"])
        try:
            snapshot = conf.get_settings()
        except ImproperlyConfigured as exc:
            snapshot, refused = None, str(exc)
        else:
            client = VoucherifyClient.from_settings()  # builds its session: no request is sent
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
