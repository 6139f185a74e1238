"""strata_vpc_flow_log against botocore's Stubber: every request is checked against the
real EC2 service model, and any call the test did not expect fails the test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import ANY, Stubber

ROOT = Path(__file__).resolve().parents[4]


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Ansible ships module_utils as ansible.module_utils.<name>; do the same for the import.
load("ansible.module_utils.strata_aws", ROOT / "plugins/module_utils/strata_aws.py")
flow_log_module = load("strata_vpc_flow_log", ROOT / "plugins/modules/strata_vpc_flow_log.py")

VPC = "vpc-0123456789abcdef0"
ROLE = "arn:aws:iam::123456789012:role/strata-flow-logs"
GROUP = "/strata/test/vpc-flow-logs"


def params(**overrides: Any) -> dict[str, Any]:
    base = {
        "state": "present",
        "resource_id": VPC,
        "resource_type": "VPC",
        "traffic_type": "ALL",
        "log_destination_type": "cloud-watch-logs",
        "log_group_name": GROUP,
        "deliver_logs_permission_arn": ROLE,
        "log_destination": None,
        "max_aggregation_interval": 60,
        "log_format": None,
        "tags": {"managed-by": "strata", "env": "test"},
        "purge_tags": True,
    }
    base.update(overrides)
    return base


def described(flow_log_id: str = "fl-1", interval: int = 60, tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "FlowLogId": flow_log_id,
        "ResourceId": VPC,
        "TrafficType": "ALL",
        "LogDestinationType": "cloud-watch-logs",
        "LogGroupName": GROUP,
        "DeliverLogsPermissionArn": ROLE,
        "MaxAggregationInterval": interval,
        "Tags": [
            {"Key": k, "Value": v}
            for k, v in (tags if tags is not None else {"managed-by": "strata", "env": "test"}).items()
        ],
    }


FIND = {
    "Filters": [
        {"Name": "resource-id", "Values": [VPC]},
        {"Name": "traffic-type", "Values": ["ALL"]},
        {"Name": "log-destination-type", "Values": ["cloud-watch-logs"]},
    ]
}


CREATE = {
    "ResourceIds": [VPC],
    "ResourceType": "VPC",
    "TrafficType": "ALL",
    "LogDestinationType": "cloud-watch-logs",
    "LogGroupName": GROUP,
    "DeliverLogsPermissionArn": ROLE,
    "MaxAggregationInterval": 60,
}
ANY_CREATE = {**CREATE, "TagSpecifications": ANY}


@pytest.fixture
def ec2() -> Any:
    client = boto3.client("ec2", region_name="eu-west-3", aws_access_key_id="x", aws_secret_access_key="y")  # noqa: S106
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


def run(client: Any, check_mode: bool = False, **overrides: Any) -> dict[str, Any]:
    module = SimpleNamespace(params=params(**overrides), check_mode=check_mode)
    return flow_log_module.run(module, client)  # type: ignore[no-any-return]


def test_creates_a_missing_flow_log(ec2: Any) -> None:
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": []}, FIND)
    ec2.stubber.add_response(
        "create_flow_logs",
        {"FlowLogIds": ["fl-1"], "Unsuccessful": []},
        {
            **CREATE,
            "TagSpecifications": [
                {
                    "ResourceType": "vpc-flow-log",
                    "Tags": [{"Key": "env", "Value": "test"}, {"Key": "managed-by", "Value": "strata"}],
                }
            ],
        },
    )
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": [described()]}, {"FlowLogIds": ["fl-1"]})
    result = run(ec2)
    assert result["changed"] is True
    assert result["flow_log"]["flow_log_id"] == "fl-1"
    assert result["flow_log"]["tags"] == {"managed-by": "strata", "env": "test"}
    assert result["diff"]["before"] == {}


def test_a_matching_flow_log_is_left_alone(ec2: Any) -> None:
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": [described()]}, FIND)
    result = run(ec2)
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"]


def test_tags_are_reconciled_in_place(ec2: Any) -> None:
    ec2.stubber.add_response(
        "describe_flow_logs", {"FlowLogs": [described(tags={"managed-by": "strata", "old": "1"})]}, FIND
    )
    ec2.stubber.add_response("create_tags", {}, {"Resources": ["fl-1"], "Tags": [{"Key": "env", "Value": "test"}]})
    ec2.stubber.add_response("delete_tags", {}, {"Resources": ["fl-1"], "Tags": [{"Key": "old"}]})
    result = run(ec2)
    assert result["changed"] is True
    assert result["flow_log"]["tags"] == {"managed-by": "strata", "env": "test"}


def test_changed_settings_replace_the_flow_log(ec2: Any) -> None:
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": [described(interval=600)]}, FIND)
    ec2.stubber.add_response("delete_flow_logs", {"Unsuccessful": []}, {"FlowLogIds": ["fl-1"]})
    ec2.stubber.add_response("create_flow_logs", {"FlowLogIds": ["fl-2"]}, ANY_CREATE)
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": [described("fl-2")]}, {"FlowLogIds": ["fl-2"]})
    result = run(ec2)
    assert result["changed"] is True
    assert result["diff"]["before"]["max_aggregation_interval"] == 600
    assert result["diff"]["after"]["max_aggregation_interval"] == 60


def test_check_mode_writes_nothing(ec2: Any) -> None:
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": []}, FIND)
    result = run(ec2, check_mode=True)
    assert result["changed"] is True
    assert result["flow_log"]["resource_id"] == VPC


def test_check_mode_on_a_replacement_writes_nothing(ec2: Any) -> None:
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": [described(interval=600)]}, FIND)
    assert run(ec2, check_mode=True)["changed"] is True


def test_absent_deletes_and_then_does_nothing(ec2: Any) -> None:
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": [described()]}, FIND)
    ec2.stubber.add_response("delete_flow_logs", {"Unsuccessful": []}, {"FlowLogIds": ["fl-1"]})
    assert run(ec2, state="absent")["changed"] is True
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": []}, FIND)
    assert run(ec2, state="absent")["changed"] is False


def test_absent_ignores_settings_other_than_the_destination(ec2: Any) -> None:
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": [described(interval=600)]}, FIND)
    ec2.stubber.add_response("delete_flow_logs", {"Unsuccessful": []}, {"FlowLogIds": ["fl-1"]})
    assert run(ec2, state="absent", deliver_logs_permission_arn=None)["changed"] is True


def test_absent_leaves_another_destination_alone(ec2: Any) -> None:
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": [described()]}, FIND)
    assert run(ec2, state="absent", log_group_name="/another/group")["changed"] is False


def test_an_unsuccessful_create_is_an_error(ec2: Any) -> None:
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": []}, FIND)
    ec2.stubber.add_response(
        "create_flow_logs",
        {"FlowLogIds": [], "Unsuccessful": [{"ResourceId": VPC, "Error": {"Code": "AccessDenied", "Message": "no"}}]},
        ANY_CREATE,
    )
    with pytest.raises(RuntimeError, match=f"CreateFlowLogs refused {VPC}: AccessDenied: no"):
        run(ec2)


def test_throttling_is_retried(ec2: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _seconds: None)
    ec2.stubber.add_client_error("describe_flow_logs", "RequestLimitExceeded", "slow down", expected_params=FIND)
    ec2.stubber.add_client_error("describe_flow_logs", "Throttling", "slow down", expected_params=FIND)
    ec2.stubber.add_response("describe_flow_logs", {"FlowLogs": [described()]}, FIND)
    assert run(ec2)["changed"] is False


def test_s3_destination_settings() -> None:
    settings = flow_log_module.wanted_settings(
        params(
            log_destination_type="s3",
            log_destination="arn:aws:s3:::b/p/",
            log_group_name=None,
            deliver_logs_permission_arn=None,
        )
    )
    assert settings["LogDestination"] == "arn:aws:s3:::b/p/"
    assert "LogGroupName" not in settings


def test_documentation_is_valid_yaml_and_matches_the_argument_spec() -> None:
    doc = yaml.safe_load(flow_log_module.DOCUMENTATION)
    yaml.safe_load(flow_log_module.EXAMPLES)
    yaml.safe_load(flow_log_module.RETURN)
    assert doc["module"] == "strata_vpc_flow_log"
    source = (ROOT / "plugins/modules/strata_vpc_flow_log.py").read_text()
    for option in doc["options"]:
        assert f"{option}=dict(" in source, option
