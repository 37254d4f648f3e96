"""The flow registry: every flow once, with a body, a title and a tab."""

from __future__ import annotations

import inspect

from service.flows.names import Flow
from service.flows.registry import FLOWS, REGISTRY, flow_tabs, spec
from service.flows.run import FlowOptions


def test_every_flow_is_registered_once() -> None:
    assert [registered.flow for registered in FLOWS] == list(Flow)
    assert set(REGISTRY) == set(Flow)


def test_every_flow_has_a_body_a_title_and_a_tab() -> None:
    for flow in Flow:
        registered = spec(flow)
        assert callable(registered.body), flow
        assert inspect.signature(registered.body).parameters, flow
        assert registered.title.lower() == flow.value.replace("-", " "), flow
        assert registered.tab
        assert registered.tab_title


def test_options_name_fields_of_flow_options() -> None:
    fields = set(FlowOptions.model_fields)
    for registered in FLOWS:
        assert set(registered.options) <= fields, registered.flow


def test_tabs_hold_every_flow_once_in_registry_order() -> None:
    tabs = flow_tabs()
    flows = [flow for _key, _title, members in tabs for flow in members]
    assert flows == list(Flow)
    keys = [key for key, _title, _members in tabs]
    assert len(keys) == len(set(keys))
    assert ("cancellation-requests", "Cancellation requests") in [(k, t) for k, t, _ in tabs]
