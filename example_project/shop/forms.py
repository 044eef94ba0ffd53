"""The checkout's voucher code field: one code, under the app's one code rule.

:class:`~django_voucherify.validation.CodeFormField` is the rule the admin and the REST API
apply (length, characters, spaces), so every code staff can create can be typed here, and a
code no door accepts is refused before Voucherify is asked. The field takes one code per
"Apply": a code may contain plain spaces ("SUMMER SALE") and commas, so splitting what is typed
on them would cut such a code into codes that do not exist.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from django_voucherify.validation import CodeFormField


class ApplyCodeForm(forms.Form):
    code = CodeFormField(
        label=_("Voucher code"),
        error_messages={"required": _("Enter a voucher code to apply.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
