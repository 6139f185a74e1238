"""The estate read back: keys, the EKS cluster and its node groups, the database, the bastion, registry, storage,
DNS, backup."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.helpers import REGION
from tests.integration.lifecycle.support import KUBERNETES_VERSION, ZONES, Lab, tags

pytestmark = pytest.mark.integration


def test_kms_keys_one_per_purpose_with_rotation(lab: Lab) -> None:
    kms = boto3.client("kms", region_name=REGION, endpoint_url=lab.endpoint)
    for purpose in ("eks", "database", "storage", "backup"):
        key = kms.describe_key(KeyId=f"alias/strata-local-{purpose}")["KeyMetadata"]
        assert key["KeyState"] == "Enabled" and key["KeyManager"] == "CUSTOMER"
        assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True


def test_eks_cluster_private_encrypted_logged_in_the_app_subnets(lab: Lab) -> None:
    eks = boto3.client("eks", region_name=REGION, endpoint_url=lab.endpoint)
    cluster = eks.describe_cluster(name="strata-local")["cluster"]
    assert cluster["status"] == "ACTIVE" and cluster["version"] == KUBERNETES_VERSION
    app_subnets = {s["SubnetId"] for s in lab.owned("describe_subnets", "Subnets", tag_tier=["app"])}
    vpc = cluster["resourcesVpcConfig"]
    assert set(vpc["subnetIds"]) == app_subnets and len(app_subnets) == 3
    assert (vpc["endpointPrivateAccess"], vpc["endpointPublicAccess"]) == (True, False)
    kms = boto3.client("kms", region_name=REGION, endpoint_url=lab.endpoint)
    key_arn = kms.describe_key(KeyId="alias/strata-local-eks")["KeyMetadata"]["Arn"]
    assert cluster["encryptionConfig"] == [{"resources": ["secrets"], "provider": {"keyArn": key_arn}}]
    enabled = {t for entry in cluster["logging"]["clusterLogging"] if entry["enabled"] for t in entry["types"]}
    assert enabled == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert cluster["tags"]["managed-by"] == "strata" and cluster["tags"]["env"] == "local"
    iam = boto3.client("iam", region_name=REGION, endpoint_url=lab.endpoint)
    assert cluster["roleArn"] == iam.get_role(RoleName="strata-local-cluster")["Role"]["Arn"]
    attached = iam.list_attached_role_policies(RoleName="strata-local-cluster")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonEKSClusterPolicy"]
    issuer = cluster["identity"]["oidc"]["issuer"].removeprefix("https://")
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert any(arn.endswith(f":oidc-provider/{issuer}") for arn in providers)
    trust = iam.get_role(RoleName="strata-local-ebs-csi")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert (
        trust["Condition"]["StringEquals"][f"{issuer}:sub"] == "system:serviceaccount:kube-system:ebs-csi-controller-sa"
    )
    # The workloads' roles (IRSA): each trusts only its service account and carries one inline policy - the catalog's
    # two the database role's, scoped to the database it made (tests/integration/lifecycle: test_database_identities).
    policies = {"catalog": "strata-local-database-login", "catalog-migrate": "strata-local-database-secrets"}
    subjects = {"catalog": "local:catalog", "catalog-migrate": "local:catalog-migrate",
                "cluster-autoscaler": "kube-system:cluster-autoscaler", "velero": "velero:velero"}  # fmt: skip
    for name, subject in subjects.items():
        role = iam.get_role(RoleName=f"strata-local-{name}")["Role"]
        condition = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]
        assert condition == {f"{issuer}:sub": f"system:serviceaccount:{subject}", f"{issuer}:aud": "sts.amazonaws.com"}
        expected = policies.get(name, f"strata-local-{name}")
        assert iam.list_role_policies(RoleName=f"strata-local-{name}")["PolicyNames"] == [expected]
        assert iam.list_attached_role_policies(RoleName=f"strata-local-{name}")["AttachedPolicies"] == []


def test_the_service_and_its_migration_are_scoped_to_this_database(lab: Lab) -> None:
    """The service may log in as its own user of this database only (IAM database authentication); the migration may
    read this database's master and monitoring secrets only, decrypting them through Secrets Manager only."""
    iam = boto3.client("iam", region_name=REGION, endpoint_url=lab.endpoint)
    rds = boto3.client("rds", region_name=REGION, endpoint_url=lab.endpoint)
    secrets = boto3.client("secretsmanager", region_name=REGION, endpoint_url=lab.endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="strata-local")["DBInstances"]
    account = db["DBInstanceArn"].split(":")[4]
    login = iam.get_role_policy(RoleName="strata-local-catalog", PolicyName="strata-local-database-login")
    (connect,) = login["PolicyDocument"]["Statement"]
    assert connect["Action"] == "rds-db:connect"
    assert connect["Resource"] == [f"arn:aws:rds-db:{REGION}:{account}:dbuser:{db['DbiResourceId']}/catalog_app"]
    reader = iam.get_role_policy(RoleName="strata-local-catalog-migrate", PolicyName="strata-local-database-secrets")
    read, decrypt = reader["PolicyDocument"]["Statement"]
    monitor = secrets.describe_secret(SecretId="strata-local/monitor")
    assert read["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    assert read["Resource"] == [db["MasterUserSecret"]["SecretArn"], monitor["ARN"]]
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == monitor["KmsKeyId"]
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}}
    # The monitoring password: generated once, encrypted with the database key, JSON the exporter's Secret reads.
    value = json.loads(secrets.get_secret_value(SecretId="strata-local/monitor")["SecretString"])
    assert value["username"] == "strata_monitor" and len(value["password"]) == 40


def test_node_groups_have_one_instance_per_zone_behind_imdsv2_templates(lab: Lab) -> None:
    autoscaling = boto3.client("autoscaling", region_name=REGION, endpoint_url=lab.endpoint)
    app_subnets = {s["SubnetId"] for s in lab.owned("describe_subnets", "Subnets", tag_tier=["app"])}
    for group in ("app", "db", "logs", "metrics"):
        (asg,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[f"strata-local-{group}"])[
            "AutoScalingGroups"
        ]
        asg_tags = {t["Key"]: t["Value"] for t in asg["Tags"]}
        assert asg_tags["kubernetes.io/cluster/strata-local"] == "owned"
        assert asg_tags["eks:nodegroup-name"] == group
        assert asg_tags["k8s.io/cluster-autoscaler/node-template/label/strata.io/nodegroup"] == group
        assert set(asg["VPCZoneIdentifier"].split(",")) == app_subnets
        instances = lab.ec2.describe_instances(InstanceIds=[i["InstanceId"] for i in asg["Instances"]])
        placed = sorted(
            (i["Placement"]["AvailabilityZone"], i["SubnetId"] in app_subnets, tags(i)["role"])
            for r in instances["Reservations"]
            for i in r["Instances"]
        )
        assert placed == [(zone, True, group) for zone in ZONES]
        (version,) = lab.ec2.describe_launch_template_versions(
            LaunchTemplateName=f"strata-local-{group}", Versions=["$Latest"]
        )["LaunchTemplateVersions"]
        data = version["LaunchTemplateData"]
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
        assert version["VersionNumber"] == 1  # a second run added no version
    assert "SKIPPED, not emulated: EKS add-ons" in lab.up_output
    assert "SKIPPED, not emulated: EKS access entries" in lab.up_output


def test_database_multi_az_private_encrypted_backed_up_with_its_secret(lab: Lab) -> None:
    rds = boto3.client("rds", region_name=REGION, endpoint_url=lab.endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="strata-local")["DBInstances"]
    assert (db["Engine"], db["MultiAZ"], db["PubliclyAccessible"]) == ("postgres", True, False)
    kms = boto3.client("kms", region_name=REGION, endpoint_url=lab.endpoint)
    key_arn = kms.describe_key(KeyId="alias/strata-local-database")["KeyMetadata"]["Arn"]
    assert db["StorageEncrypted"] is True and db["KmsKeyId"] == key_arn
    assert (db["BackupRetentionPeriod"], db["PreferredBackupWindow"]) == (7, "02:00-03:00")
    assert db["PreferredMaintenanceWindow"] == "sun:03:30-sun:04:30"
    assert db["IAMDatabaseAuthenticationEnabled"] is True and db["DeletionProtection"] is False
    assert db["MonitoringInterval"] == 60 and db["MonitoringRoleArn"].endswith(":role/strata-local-rds-monitoring")
    database_subnets = lab.owned("describe_subnets", "Subnets", tag_tier=["database"])
    group = db["DBSubnetGroup"]
    assert {s["SubnetIdentifier"] for s in group["Subnets"]} == {s["SubnetId"] for s in database_subnets}
    assert sorted(s["SubnetAvailabilityZone"]["Name"] for s in group["Subnets"]) == ZONES
    (sg,) = lab.owned("describe_security_groups", "SecurityGroups", group_name=["strata-local-database"])
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [sg["GroupId"]]
    parameters = rds.describe_db_parameters(DBParameterGroupName="strata-local-postgres16")["Parameters"]
    assert {p["ParameterName"]: p.get("ParameterValue") for p in parameters}["rds.force_ssl"] == "1"
    secret = db["MasterUserSecret"]
    assert secret["KmsKeyId"] == key_arn
    secrets = boto3.client("secretsmanager", region_name=REGION, endpoint_url=lab.endpoint)
    assert secrets.describe_secret(SecretId=secret["SecretArn"])["ARN"] == secret["SecretArn"]


def test_a_minor_upgrade_by_aws_is_kept_not_reverted(lab: Lab) -> None:
    """RDS upgrades minors by itself (auto_minor_version_upgrade); the next converge must not ask for the pinned,
    lower minor: AWS refuses a downgrade, so the run would fail on a real account."""
    rds = boto3.client("rds", region_name=REGION, endpoint_url=lab.endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="strata-local")["DBInstances"]
    pinned = db["EngineVersion"]
    major, minor = pinned.split(".")
    upgraded = f"{major}.{int(minor) + 2}"
    rds.modify_db_instance(DBInstanceIdentifier="strata-local", EngineVersion=upgraded, ApplyImmediately=True)
    try:
        again = lab.playbook("site.yml", "-e", "env=local", "--tags", "database")
        assert again.returncode == 0, again.output[-3000:]
        assert again.recap["changed"] == 0, again.output[-3000:]
        (db,) = rds.describe_db_instances(DBInstanceIdentifier="strata-local")["DBInstances"]
        assert db["EngineVersion"] == upgraded
    finally:
        rds.modify_db_instance(DBInstanceIdentifier="strata-local", EngineVersion=pinned, ApplyImmediately=True)


def test_one_bastion_in_a_public_subnet_found_by_its_tags(lab: Lab) -> None:
    found = lab.ec2.describe_instances(
        Filters=[
            {"Name": "tag:role", "Values": ["bastion"]},
            {"Name": "tag:env", "Values": ["local"]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )["Reservations"]
    (bastion,) = [i for r in found for i in r["Instances"]]
    (subnet,) = lab.ec2.describe_subnets(SubnetIds=[bastion["SubnetId"]])["Subnets"]
    assert tags(subnet)["tier"] == "public"
    assert bastion.get("PublicIpAddress")
    assert [g["GroupName"] for g in bastion["SecurityGroups"]] == ["strata-local-bastion"]
    assert bastion["IamInstanceProfile"]["Arn"].endswith(":instance-profile/strata-local-bastion")
    assert bastion["MetadataOptions"]["HttpTokens"] == "required"


def test_registry_storage_dns_and_backup(lab: Lab) -> None:
    ecr = boto3.client("ecr", region_name=REGION, endpoint_url=lab.endpoint)
    (repo,) = ecr.describe_repositories(repositoryNames=["strata/api"])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE" and repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"
    rules = json.loads(ecr.get_lifecycle_policy(repositoryName="strata/api")["lifecyclePolicyText"])["rules"]
    assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]

    s3 = boto3.client("s3", region_name=REGION, endpoint_url=lab.endpoint)
    bucket = "strata-local-artifacts-123456789012"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    (deny,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    route53 = boto3.client("route53", region_name=REGION, endpoint_url=lab.endpoint)
    (zone,) = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == "local.strata.internal."]
    assert zone["Config"]["PrivateZone"] is True
    (vpc,) = lab.owned("describe_vpcs", "Vpcs")
    assert [v["VPCId"] for v in route53.get_hosted_zone(Id=zone["Id"])["VPCs"]] == [vpc["VpcId"]]
    records = {
        r["Name"]: (r["Type"], [v["Value"] for v in r["ResourceRecords"]])
        for r in route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    }
    rds = boto3.client("rds", region_name=REGION, endpoint_url=lab.endpoint)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="strata-local")["DBInstances"]
    assert records["db.local.strata.internal."] == ("CNAME", [db["Endpoint"]["Address"]])
    bastion = lab.ec2.describe_instances(Filters=[{"Name": "tag:role", "Values": ["bastion"]}])["Reservations"]
    private_ip = [i["PrivateIpAddress"] for r in bastion for i in r["Instances"] if i["State"]["Name"] == "running"]
    assert records["bastion.local.strata.internal."] == ("A", private_ip)

    backup = boto3.client("backup", region_name=REGION, endpoint_url=lab.endpoint)
    vault = backup.describe_backup_vault(BackupVaultName="strata-local")
    kms = boto3.client("kms", region_name=REGION, endpoint_url=lab.endpoint)
    assert vault["EncryptionKeyArn"] == kms.describe_key(KeyId="alias/strata-local-backup")["KeyMetadata"]["Arn"]
    (plan,) = [p for p in backup.list_backup_plans()["BackupPlansList"] if p["BackupPlanName"] == "strata-local"]
    (daily,) = backup.get_backup_plan(BackupPlanId=plan["BackupPlanId"])["BackupPlan"]["Rules"]
    assert (daily["TargetBackupVaultName"], daily["Lifecycle"]["DeleteAfterDays"]) == ("strata-local", 35)
    assert "SKIPPED, not emulated: the backup selection of strata-local" in " ".join(lab.up_output.split())
