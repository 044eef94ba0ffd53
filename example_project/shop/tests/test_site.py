"""The demo site as a browser meets it, beyond the shop's own pages."""

from __future__ import annotations


def test_the_browser_asks_for_an_icon_and_gets_no_404(client):
    # Every page made the browser ask for it: a "Not Found" line in the demo's output each time.
    response = client.get("/favicon.ico")
    assert response.status_code == 204 and response.content == b""
