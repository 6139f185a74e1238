"""The network read back from the embedded cloud: VPC blocks, subnets per tier and zone, NAT, routes, NACLs, security
groups, endpoints, flow logs."""

from __future__ import annotations

import ipaddress
from collections import Counter

import boto3
import pytest

from tests.helpers import REGION
from tests.integration.lifecycle.support import TIERS, ZONES, Lab, tags

pytestmark = pytest.mark.integration


def test_vpc_blocks_dns_and_tags(lab: Lab) -> None:
    (vpc,) = lab.owned("describe_vpcs", "Vpcs")
    assert vpc["CidrBlock"] == "10.0.0.0/22"
    blocks = sorted(
        a["CidrBlock"] for a in vpc["CidrBlockAssociationSet"] if a["CidrBlockState"]["State"] == "associated"
    )
    assert blocks == ["10.0.0.0/22", "10.2.0.0/22", "10.4.0.0/22", "10.6.0.0/22"]
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        key = attribute[0].upper() + attribute[1:]
        assert lab.ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)[key]["Value"] is True
    assert tags(vpc) == {"Name": "strata-local", "managed-by": "strata", "env": "local", "project": "strata"}


def test_subnets_per_tier_and_zone(lab: Lab) -> None:
    subnets = lab.owned("describe_subnets", "Subnets")
    assert len(subnets) == 12
    seen = {(tags(s)["tier"], s["AvailabilityZone"]): s for s in subnets}
    for tier, prefix in TIERS.items():
        for index, zone in enumerate(ZONES, start=1):
            subnet = seen[(tier, zone)]
            assert subnet["CidrBlock"] == f"{prefix}.{index}.0/24"
            assert tags(subnet)["zone"] == zone
            assert tags(subnet)["Name"] == f"strata-local-{tier}-{zone[-1]}"
            assert subnet["MapPublicIpOnLaunch"] is False
            assert (tags(subnet).get("kubernetes.io/role/elb") == "1") is (tier == "public")
            assert (tags(subnet).get("kubernetes.io/role/internal-elb") == "1") is (tier == "app")


def test_one_nat_gateway_with_a_tagged_eip_per_public_subnet(lab: Lab) -> None:
    public = {
        s["SubnetId"]: s["AvailabilityZone"] for s in lab.owned("describe_subnets", "Subnets", tag_tier=["public"])
    }
    nats = lab.owned("describe_nat_gateways", "NatGateways", state=["available"])
    assert sorted(public[n["SubnetId"]] for n in nats) == ZONES
    allocations = {a["AllocationId"] for n in nats for a in n["NatGatewayAddresses"]}
    eips = lab.owned("describe_addresses", "Addresses")
    assert {e["AllocationId"] for e in eips} == allocations and len(allocations) == 3


def test_routes_per_zone(lab: Lab) -> None:
    subnets = {s["SubnetId"]: s for s in lab.owned("describe_subnets", "Subnets")}
    nat_zone = {
        n["NatGatewayId"]: subnets[n["SubnetId"]]["AvailabilityZone"]
        for n in lab.owned("describe_nat_gateways", "NatGateways", state=["available"])
    }
    (igw,) = lab.owned("describe_internet_gateways", "InternetGateways")
    tables = lab.owned("describe_route_tables", "RouteTables")
    assert len(tables) == 10  # one public + one per private tier and zone
    routed = Counter()
    for table in tables:
        default = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert len(default) == 1, table
        for assoc in table["Associations"]:
            if assoc.get("Main"):
                continue
            subnet = subnets[assoc["SubnetId"]]
            tier = tags(subnet)["tier"]
            routed[tier] += 1
            if tier == "public":
                assert default[0]["GatewayId"] == igw["InternetGatewayId"]
            else:
                assert nat_zone[default[0]["NatGatewayId"]] == subnet["AvailabilityZone"]
    assert routed == {"public": 3, "app": 3, "database": 3, "admin": 3}


def test_network_acls_of_database_and_admin(lab: Lab) -> None:
    acls = {tags(a)["tier"]: a for a in lab.owned("describe_network_acls", "NetworkAcls")}
    assert set(acls) == {"database", "admin"}
    subnets = {s["SubnetId"]: tags(s)["tier"] for s in lab.owned("describe_subnets", "Subnets")}
    for tier, acl in acls.items():
        assert sorted(subnets[a["SubnetId"]] for a in acl["Associations"]) == [tier] * 3

    def entries(tier: str, egress: bool) -> dict[int, tuple[str, str, int, int]]:
        return {
            e["RuleNumber"]: (e["RuleAction"], e["CidrBlock"], e["PortRange"]["From"], e["PortRange"]["To"])
            for e in acls[tier]["Entries"]
            if e["Egress"] is egress and e["RuleNumber"] < 32767
        }

    assert entries("database", egress=False) == {
        100: ("allow", "10.4.0.0/22", 5432, 5432),
        190: ("deny", "0.0.0.0/0", 5432, 5432),
        200: ("allow", "0.0.0.0/0", 1024, 65535),
    }
    assert entries("database", egress=True)[100] == ("allow", "10.4.0.0/22", 1024, 65535)
    assert entries("admin", egress=False) == {
        100: ("allow", "10.6.0.0/22", 22, 22),
        200: ("allow", "0.0.0.0/0", 1024, 65535),
    }


def test_security_groups_least_privilege(lab: Lab) -> None:
    groups = {g["GroupName"]: g for g in lab.owned("describe_security_groups", "SecurityGroups")}
    assert set(groups) == {f"strata-local-{n}" for n in ("bastion", "app", "db-clients", "database", "endpoints")}
    bastion, app, clients, database = (
        groups[f"strata-local-{n}"] for n in ("bastion", "app", "db-clients", "database")
    )

    (ssh,) = bastion["IpPermissions"]
    assert (ssh["IpProtocol"], ssh["FromPort"], ssh["ToPort"]) == ("tcp", 22, 22)
    assert [r["CidrIp"] for r in ssh["IpRanges"]] == ["192.0.2.0/24"]

    (db,) = database["IpPermissions"]
    assert (db["IpProtocol"], db["FromPort"], db["ToPort"]) == ("tcp", 5432, 5432)
    assert db["IpRanges"] == []
    assert [p["GroupId"] for p in db["UserIdGroupPairs"]] == [clients["GroupId"]]  # membership is the grant
    assert database["IpPermissionsEgress"] == []
    assert clients["IpPermissions"] == [] and clients["IpPermissionsEgress"] == []

    app_ssh = [p for p in app["IpPermissions"] if p.get("FromPort") == 22]
    assert [g["GroupId"] for p in app_ssh for g in p["UserIdGroupPairs"]] == [bastion["GroupId"]]
    assert all(not any(r["CidrIp"] == "0.0.0.0/0" for r in p["IpRanges"]) for p in app["IpPermissions"])


def test_vpc_endpoints(lab: Lab) -> None:
    endpoints = {e["ServiceName"]: e for e in lab.owned("describe_vpc_endpoints", "VpcEndpoints")}
    s3 = endpoints.pop(f"com.amazonaws.{REGION}.s3")
    assert s3["VpcEndpointType"] == "Gateway"
    assert len(s3["RouteTableIds"]) == 10
    assert sorted(endpoints) == [f"com.amazonaws.{REGION}.{s}" for s in ("ecr.api", "ecr.dkr", "logs", "sts")]
    app_subnets = {s["SubnetId"] for s in lab.owned("describe_subnets", "Subnets", tag_tier=["app"])}
    for endpoint in endpoints.values():
        assert endpoint["VpcEndpointType"] == "Interface"
        assert set(endpoint["SubnetIds"]) == app_subnets


def test_flow_logs_to_a_log_group_through_a_scoped_role(lab: Lab) -> None:
    (vpc,) = lab.owned("describe_vpcs", "Vpcs")
    (flow_log,) = lab.ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])["FlowLogs"]
    assert (flow_log["TrafficType"], flow_log["LogDestinationType"]) == ("ALL", "cloud-watch-logs")
    assert flow_log["LogGroupName"] == "/strata-local/vpc-flow-logs"
    assert flow_log["MaxAggregationInterval"] == 60
    assert tags(flow_log)["managed-by"] == "strata"
    logs = boto3.client("logs", region_name=REGION, endpoint_url=lab.endpoint)
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/strata-local/vpc-flow-logs")["logGroups"]
    assert group["retentionInDays"] == 30
    iam = boto3.client("iam", region_name=REGION, endpoint_url=lab.endpoint)
    role = iam.get_role(RoleName="strata-local-vpc-flow-logs")["Role"]
    assert flow_log["DeliverLogsPermissionArn"] == role["Arn"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    account = role["Arn"].split(":")[4]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:ec2:{REGION}:{account}:vpc-flow-log/*"}
    policy = iam.get_role_policy(RoleName="strata-local-vpc-flow-logs", PolicyName="deliver-to-log-group")
    write = policy["PolicyDocument"]["Statement"][0]
    assert write["Resource"][0].endswith(":log-group:/strata-local/vpc-flow-logs")


def test_every_subnet_is_inside_a_vpc_block(lab: Lab) -> None:
    (vpc,) = lab.owned("describe_vpcs", "Vpcs")
    blocks = [ipaddress.ip_network(a["CidrBlock"]) for a in vpc["CidrBlockAssociationSet"]]
    for subnet in lab.owned("describe_subnets", "Subnets"):
        assert any(ipaddress.ip_network(subnet["CidrBlock"]).subnet_of(b) for b in blocks)  # type: ignore[arg-type]


def test_the_default_security_group_admits_and_sends_nothing(lab: Lab) -> None:
    """AWS creates it allowing all traffic between its members and all egress; whatever lands in it by mistake must
    get nothing (CIS AWS 5.4)."""
    (vpc,) = lab.owned("describe_vpcs", "Vpcs")
    filters = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    (default,) = lab.ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
    assert default["IpPermissions"] == [] and default["IpPermissionsEgress"] == []
