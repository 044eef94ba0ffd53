"""The publications ledger: which code of a campaign this shop handed to which customer.

One row per (campaign id, customer source id): the claim that lets one caller at a time ask
Voucherify for the customer's code, and the record of the answer, so that every later call
(a double click, a retry after a lost answer, a process restarted after a crash) gets the same
code back without a second publication. See docs/checkout.md, "Publishing a code".
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from .background import BackgroundWork


class PublicationState(models.TextChoices):
    #: Not answered yet: never sent, being sent (leased), or sent with the answer lost
    #: (``sent_at`` set: the next holder looks the publication up before sending again).
    PENDING = "pending", _("pending")
    #: Voucherify answered with the code; final.
    PUBLISHED = "published", _("published")


def new_publication_key() -> str:
    """The publication ``source_id`` sent to Voucherify: random, so it names no customer."""
    return f"dvpub-{uuid.uuid4().hex}"


class CustomerPublication(BackgroundWork):
    #: The campaign's Voucherify id: the ledger's key, so that a call by name and one by id are
    #: one row. Rows written before the key was resolved hold the campaign as their caller gave
    #: it (a name or an id); ``checkout.publish`` finds them by either (docs/checkout.md).
    campaign = models.CharField(_("campaign id"), max_length=200)
    #: The campaign's name when the row was written (blank on rows written before it was kept):
    #: a call by name finds the row without asking Voucherify.
    campaign_name = models.CharField(_("campaign name"), max_length=200, blank=True, default="")
    customer_source_id = models.CharField(_("customer source id"), max_length=200)
    state = models.CharField(
        _("state"), max_length=16, choices=PublicationState.choices, default=PublicationState.PENDING
    )
    code = models.CharField(_("code"), max_length=300, blank=True)
    publication_id = models.CharField(_("publication id"), max_length=100, blank=True)
    #: The publication's ``source_id`` at Voucherify: every request for this row carries it, so
    #: a request sent again names the same publication, and a lost answer can be looked up.
    key = models.CharField(_("publication key"), max_length=64, unique=True, default=new_publication_key)
    #: Set (and committed) before a request leaves: from then on, Voucherify may hold a
    #: publication for this row, whatever the caller heard.
    sent_at = models.DateTimeField(_("first sent at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer publication")
        verbose_name_plural = _("customer publications")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer_source_id"], name="voucherify_one_publication_per_customer"
            )
        ]
        indexes = [
            # The look-up by name (a customer's rows, then the name): see checkout.publish.
            models.Index(fields=["customer_source_id", "campaign_name"], name="voucherify_publication_name")
        ]

    def __str__(self) -> str:
        return f"{self.campaign} → {self.customer_source_id}: {self.code or self.state}"
