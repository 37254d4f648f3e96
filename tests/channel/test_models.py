"""The channel DTOs the flows see: what they accept, what they refuse."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.channel.models import ChannelCancel


def test_cancel_ignores_reasons_for_lines_it_does_not_cancel() -> None:
    cancel = ChannelCancel.model_validate(
        {
            "order": "7000001",
            "cancel_items": ["11", "12"],
            "reasons": {"11": "CR-01", "99": "CR-02"},
        }
    )

    assert dict(cancel.reasons) == {"11": "CR-01"}
    assert cancel.cancel_items == ("11", "12")


def test_cancel_without_lines_is_refused() -> None:
    with pytest.raises(ValidationError, match="cancel_items"):
        ChannelCancel.model_validate({"order": "7000001", "cancel_items": []})
