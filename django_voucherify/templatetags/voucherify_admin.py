"""Template helpers of the Voucherify admin pages."""

from __future__ import annotations

import django
from django import template

register = template.Library()


@register.simple_tag
def breadcrumbs_as_list() -> bool:
    """Whether this Django draws the admin's breadcrumbs as ``<ol class="breadcrumbs">`` (6.0
    on) rather than ``<div class="breadcrumbs">`` with ``&rsaquo;`` (5.2): the custom pages draw
    them the same way as Django's own pages, so the admin's CSS styles them."""
    return django.VERSION >= (6, 0)
