"""strata_vpc_flow_log through Ansible against the embedded cloud, which implements flow logs."""

from __future__ import annotations

import pytest

from tests.helpers import Cloud

pytestmark = pytest.mark.integration


def test_flow_log_lifecycle(private_cloud: Cloud) -> None:
    ec2 = private_cloud.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    private_cloud.client("logs").create_log_group(logGroupName="/strata/test/flow")
    role_arn = private_cloud.client("iam").create_role(
        RoleName="strata-flow-logs-test",
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
    )["Role"]["Arn"]

    result = private_cloud.playbook(
        "tests/integration/playbooks/flow_log.yml",
        "-e",
        f"endpoint={private_cloud.endpoint} vpc_id={vpc_id} log_group=/strata/test/flow role_arn={role_arn}",
    )

    assert result.returncode == 0, result.output[-4000:]
    assert result.recap["failed"] == 0
    # The last step deleted it: nothing remains for the VPC.
    remaining = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
    assert remaining == []
