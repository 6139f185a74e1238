"""strata_instance_type_offerings_info under botocore's Stubber: the zones are the address plan's (sorted,
the first N), every page of offerings is read, and a type one zone lacks is reported with that zone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.plugins.modules.stubs import FakeModule, load_module, stubbed

offerings = load_module("strata_instance_type_offerings_info")

ZONES = {"AvailabilityZones": [{"ZoneName": z} for z in ("eu-west-3c", "eu-west-3a", "eu-west-3b")]}
ZONE_FILTERS = {
    "Filters": [{"Name": "state", "Values": ["available"]}, {"Name": "zone-type", "Values": ["availability-zone"]}]
}


def offered(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"InstanceType": t, "Location": z, "LocationType": "availability-zone"} for t, z in pairs]


@pytest.fixture
def ec2() -> Iterator[Any]:
    with stubbed("ec2") as client:
        yield client


def request(types: list[str], zones: list[str], token: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "LocationType": "availability-zone",
        "Filters": [{"Name": "instance-type", "Values": types}, {"Name": "location", "Values": zones}],
    }
    if token:
        body["NextToken"] = token
    return body


def test_a_type_a_zone_lacks_is_missing_there_and_pages_are_followed(ec2: Any) -> None:
    ec2.stubber.add_response("describe_availability_zones", ZONES, ZONE_FILTERS)
    zones = ["eu-west-3a", "eu-west-3b"]  # zone_count 2: the first two by name, as the address plan places subnets
    ec2.stubber.add_response(
        "describe_instance_type_offerings",
        {
            "InstanceTypeOfferings": offered(("m6i.large", "eu-west-3a"), ("x2iedn.metal", "eu-west-3a")),
            "NextToken": "t",
        },
        request(["m6i.large", "x2iedn.metal"], zones),
    )
    ec2.stubber.add_response(
        "describe_instance_type_offerings",
        {"InstanceTypeOfferings": offered(("m6i.large", "eu-west-3b"))},
        request(["m6i.large", "x2iedn.metal"], zones, "t"),
    )
    asked = {"instance_types": ["x2iedn.metal", "m6i.large", "m6i.large"], "zone_count": 2}
    result = offerings.run(FakeModule(asked), ec2)
    assert result == {
        "changed": False,
        "zones": zones,
        "offered": {"m6i.large": zones, "x2iedn.metal": ["eu-west-3a"]},
        "missing": {"x2iedn.metal": ["eu-west-3b"]},
    }


def test_every_available_zone_without_a_count_and_nothing_missing(ec2: Any) -> None:
    ec2.stubber.add_response("describe_availability_zones", ZONES, ZONE_FILTERS)
    zones = ["eu-west-3a", "eu-west-3b", "eu-west-3c"]
    ec2.stubber.add_response(
        "describe_instance_type_offerings",
        {"InstanceTypeOfferings": offered(*(("t3.micro", z) for z in zones))},
        request(["t3.micro"], zones),
    )
    result = offerings.run(FakeModule({"instance_types": ["t3.micro"], "zone_count": None}), ec2)
    assert result["missing"] == {} and result["offered"] == {"t3.micro": zones}
