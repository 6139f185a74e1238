"""A read-only summary of what the platform created in one environment (boto3)."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

import boto3

from strata import PROJECT
from strata.domain import fleet


def collect(endpoint: str | None, region: str, env: str) -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint)
    owned = fleet.owned_filters(env)
    vpcs = ec2.describe_vpcs(Filters=owned)["Vpcs"]
    vpc_ids = [v["VpcId"] for v in vpcs]
    in_vpcs = [{"Name": "vpc-id", "Values": vpc_ids}] if vpc_ids else []

    def described(call: str, key: str, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not vpc_ids:
            return []
        items: list[dict[str, Any]] = []
        for page in ec2.get_paginator(call).paginate(Filters=filters):
            items.extend(page[key])
        return items

    subnets = described("describe_subnets", "Subnets", in_vpcs)
    nats = [n for n in described("describe_nat_gateways", "NatGateways", in_vpcs) if n["State"] != "deleted"]
    route_tables = described("describe_route_tables", "RouteTables", in_vpcs)
    nacls = described("describe_network_acls", "NetworkAcls", in_vpcs)
    groups = described("describe_security_groups", "SecurityGroups", in_vpcs)
    endpoints = described("describe_vpc_endpoints", "VpcEndpoints", in_vpcs)
    return {
        "env": env,
        "region": region,
        "vpcs": [
            {
                "id": v["VpcId"],
                "name": fleet.tags_of(v).get("Name", ""),
                "primary_cidr": v["CidrBlock"],
                "secondary_cidrs": sorted(
                    (a["CidrBlock"] for a in v.get("CidrBlockAssociationSet", []) if a["CidrBlock"] != v["CidrBlock"]),
                    key=ipaddress.ip_network,
                ),
            }
            for v in vpcs
        ],
        "subnets": sorted(
            (
                {
                    "id": s["SubnetId"],
                    "tier": fleet.tags_of(s).get("tier", "?"),
                    "zone": s["AvailabilityZone"],
                    "cidr": s["CidrBlock"],
                    "free": s.get("AvailableIpAddressCount"),
                }
                for s in subnets
            ),
            key=lambda s: (s["tier"], s["zone"]),
        ),
        "nat_gateways": [{"id": n["NatGatewayId"], "subnet": n["SubnetId"], "public_ip": _public_ip(n)} for n in nats],
        "route_tables": [
            {"id": r["RouteTableId"], "name": fleet.tags_of(r).get("Name", "(main)")} for r in route_tables
        ],
        "network_acls": [
            {"id": a["NetworkAclId"], "name": fleet.tags_of(a).get("Name", "(default)"), "entries": len(a["Entries"])}
            for a in nacls
        ],
        "security_groups": [{"id": g["GroupId"], "name": g["GroupName"]} for g in groups],
        "vpc_endpoints": [{"id": e["VpcEndpointId"], "service": e["ServiceName"]} for e in endpoints],
        **collect_estate(endpoint, region, env),
    }


def collect_estate(endpoint: str | None, region: str, env: str) -> dict[str, Any]:
    """The estate on top of the network: cluster, node groups, bastion, database, services."""
    name = fleet.resource_name(env)

    def client(service: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=endpoint)

    eks = client("eks")
    cluster = eks.describe_cluster(name=name)["cluster"] if name in eks.list_clusters()["clusters"] else None
    ec2 = client("ec2")
    owned = fleet.owned_filters(env)
    live = [{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    instances = [i for r in ec2.describe_instances(Filters=owned + live)["Reservations"] for i in r["Instances"]]
    nodes: dict[str, list[str]] = defaultdict(list)
    bastions = []
    for instance, member in fleet.members(instances, env=env, cluster=name):
        if member.kind == fleet.BASTION:
            bastions.append(
                {
                    "id": instance["InstanceId"],
                    "public_ip": instance.get("PublicIpAddress", ""),
                    "private_ip": instance.get("PrivateIpAddress", ""),
                }
            )
        else:
            nodes[member.nodegroup].append(instance["Placement"]["AvailabilityZone"])
    rds = client("rds")
    databases = [
        {
            "id": d["DBInstanceIdentifier"],
            "engine": d["Engine"],
            "multi_az": d.get("MultiAZ", False),
            "endpoint": (d.get("Endpoint") or {}).get("Address", ""),
        }
        for d in rds.describe_db_instances()["DBInstances"]
        if d["DBInstanceIdentifier"] == name or d.get("DBClusterIdentifier") == name
    ]
    zones = [z["Name"].rstrip(".") for z in client("route53").list_hosted_zones()["HostedZones"]]
    return {
        "cluster": {"name": cluster["name"], "version": cluster["version"], "status": cluster["status"]}
        if cluster
        else None,
        "node_groups": {group: sorted(zones_) for group, zones_ in sorted(nodes.items())},
        "bastions": bastions,
        "databases": databases,
        "private_zones": [z for z in zones if z == f"{env}.{PROJECT}.internal"],
    }


def _public_ip(nat: dict[str, Any]) -> str:
    addresses = nat.get("NatGatewayAddresses") or [{}]
    return str(addresses[0].get("PublicIp", ""))


def render(data: dict[str, Any], endpoint: str | None) -> str:
    lines = [f"strata environment '{data['env']}' in {data['region']}"]
    if not data["vpcs"]:
        lines.append("  no VPC managed by strata in this environment")
    for vpc in data["vpcs"]:
        secondary = ", ".join(vpc["secondary_cidrs"]) or "none"
        lines.append(f"  VPC {vpc['id']} {vpc['name']}: primary {vpc['primary_cidr']}, secondary {secondary}")
    by_tier: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for subnet in data["subnets"]:
        by_tier[subnet["tier"]].append(subnet)
    for tier, subnets in sorted(by_tier.items()):
        cells = ", ".join(f"{s['zone']} {s['cidr']}" for s in subnets)
        lines.append(f"  subnets {tier:<8} {cells}")
    for nat in data["nat_gateways"]:
        lines.append(f"  NAT gateway {nat['id']} in {nat['subnet']} ({nat['public_ip']})")
    lines.append(f"  route tables: {len(data['route_tables'])} ({', '.join(r['name'] for r in data['route_tables'])})")
    lines.append("  network ACLs: " + ", ".join(f"{a['name']} ({a['entries']} entries)" for a in data["network_acls"]))
    lines.append("  security groups: " + ", ".join(g["name"] for g in data["security_groups"]))
    lines.append("  VPC endpoints: " + (", ".join(e["service"] for e in data["vpc_endpoints"]) or "none"))
    cluster = data.get("cluster")
    if cluster:
        lines.append(f"  EKS cluster {cluster['name']} {cluster['version']} ({cluster['status']})")
    for group, zones in data.get("node_groups", {}).items():
        lines.append(f"  node group {group:<8} {len(zones)} instance(s): {', '.join(zones)}")
    for bastion in data.get("bastions", []):
        lines.append(f"  bastion {bastion['id']} public {bastion['public_ip']} private {bastion['private_ip']}")
    for db in data.get("databases", []):
        lines.append(f"  database {db['id']} {db['engine']} multi-AZ={db['multi_az']} {db['endpoint']}")
    for zone in data.get("private_zones", []):
        lines.append(f"  private zone {zone}")
    if endpoint:
        lines += [
            "",
            f"Embedded cloud endpoint: {endpoint}",
            "  AWS CLI: aws --endpoint-url " + endpoint + " --region " + data["region"] + " ec2 describe-vpcs",
            "  boto3:   boto3.client('ec2', endpoint_url='" + endpoint + "', region_name='" + data["region"] + "')",
            "  (dummy credentials: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing;",
            "   `.venv/bin/strata-cloud env` prints the exports)",
        ]
    return "\n".join(lines)


# EC2 resource kinds the platform creates: (describe call, result key, id key).
_EC2_KINDS = (
    ("describe_vpcs", "Vpcs", "VpcId"),
    ("describe_subnets", "Subnets", "SubnetId"),
    ("describe_route_tables", "RouteTables", "RouteTableId"),
    ("describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
    ("describe_nat_gateways", "NatGateways", "NatGatewayId"),
    ("describe_network_acls", "NetworkAcls", "NetworkAclId"),
    ("describe_security_groups", "SecurityGroups", "GroupId"),
    ("describe_vpc_endpoints", "VpcEndpoints", "VpcEndpointId"),
    ("describe_addresses", "Addresses", "AllocationId"),
    ("describe_flow_logs", "FlowLogs", "FlowLogId"),
    ("describe_launch_templates", "LaunchTemplates", "LaunchTemplateId"),
)
_GONE_STATES = {"deleted", "deleting"}
# Kept on purpose when an environment is destroyed: the database's final snapshot.
_RETAINED = (":snapshot:", ":cluster-snapshot:")
RETAINED_TAG = "retained"


def _retained(item: dict[str, Any]) -> bool:
    """Kept on purpose: final snapshots, and what carries the retained tag (the keys that decrypt them)."""
    tags = {t["Key"] for t in item.get("Tags", [])}
    return any(kind in item["ResourceARN"] for kind in _RETAINED) or RETAINED_TAG in tags


def _tagged(endpoint: str | None, region: str, env: str) -> list[dict[str, Any]]:
    """The environment's live resources as the Resource Groups Tagging API lists them (keys pending deletion
    excluded: they are on their way out)."""
    tagging = boto3.client("resourcegroupstaggingapi", region_name=region, endpoint_url=endpoint)
    return [
        item
        for page in tagging.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": k, "Values": [v]} for k, v in fleet.owned_tags(env).items()]
        )
        for item in page["ResourceTagMappingList"]
        if not _pending_deletion(item["ResourceARN"], region, endpoint)
    ]


def retained(endpoint: str | None, region: str, env: str) -> list[str]:
    """ARNs of what destroy keeps on purpose in `env`: final snapshots and the keys that decrypt them."""
    return left_and_retained(endpoint, region, env)[1]


def leftovers(endpoint: str | None, region: str, env: str) -> list[str]:
    """Ids/ARNs of live resources still tagged managed-by=strata and env=`env` (see left_and_retained)."""
    return left_and_retained(endpoint, region, env)[0]


def left_and_retained(endpoint: str | None, region: str, env: str) -> tuple[list[str], list[str]]:
    """(ids/ARNs of live resources still tagged managed-by=strata and env=`env`, ARNs of what destroy keeps on
    purpose), from one listing of each kind.

    EC2 kinds are listed by their own describe calls (DescribeTags would also report
    resources already deleted); other services through the Resource Groups Tagging API.
    NAT gateways and endpoints in state deleted/deleting are history, not resources.
    """
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint)
    owned = fleet.owned_filters(env)
    found: set[str] = set()
    for call, key, id_key in _EC2_KINDS:
        items = (
            ec2.describe_addresses(Filters=owned)[key]
            if call == "describe_addresses"
            else [item for page in ec2.get_paginator(call).paginate(Filters=owned) for item in page[key]]
        )
        found.update(item[id_key] for item in items if str(item.get("State", "")).lower() not in _GONE_STATES)
    tagged = _tagged(endpoint, region, env)
    found.update(
        item["ResourceARN"]
        for item in tagged
        if not item["ResourceARN"].startswith("arn:aws:ec2:") and not _retained(item)
    )
    found.update(_live_instances(ec2, owned))
    autoscaling = boto3.client("autoscaling", region_name=region, endpoint_url=endpoint)
    for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate(Filters=fleet.owned_filters(env)):
        found.update(g["AutoScalingGroupARN"] for g in page["AutoScalingGroups"])
    return sorted(found), sorted(item["ResourceARN"] for item in tagged if _retained(item))


def _live_instances(ec2: Any, owned: list[dict[str, Any]]) -> set[str]:
    live = {"pending", "running", "stopping", "stopped"}
    return {
        instance["InstanceId"]
        for page in ec2.get_paginator("describe_instances").paginate(Filters=owned)
        for reservation in page["Reservations"]
        for instance in reservation["Instances"]
        if instance["State"]["Name"] in live
    }


def _pending_deletion(arn: str, region: str, endpoint: str | None) -> bool:
    """A KMS key scheduled for deletion is on its way out (AWS keeps it 7 to 30 days)."""
    if not arn.startswith("arn:aws:kms:") or ":key/" not in arn:
        return False
    kms = boto3.client("kms", region_name=region, endpoint_url=endpoint)
    return bool(kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "PendingDeletion")
