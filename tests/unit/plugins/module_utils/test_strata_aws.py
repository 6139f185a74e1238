"""The module kit (plugins/module_utils/strata_aws.py) itself: not-found reads, tags as amazon.aws treats them, and
the shell every module's main() hands its work to."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.unit.plugins.modules.stubs import not_found, strata_aws, stubbed


def test_describe_or_none_reads_finds_and_raises() -> None:
    with stubbed("eks") as eks:
        eks.stubber.add_response("describe_cluster", {"cluster": {"name": "c"}}, {"name": "c"})
        not_found(eks, "describe_cluster", {"name": "gone"})
        eks.stubber.add_client_error(
            "describe_cluster", service_error_code="AccessDeniedException", http_status_code=403
        )
        assert strata_aws.describe_or_none(eks, "describe_cluster", "cluster", name="c") == {"name": "c"}
        assert strata_aws.describe_or_none(eks, "describe_cluster", "cluster", name="gone") is None
        with pytest.raises(ClientError):
            strata_aws.describe_or_none(eks, "describe_cluster", "cluster", name="other")


def test_other_not_found_codes() -> None:
    with stubbed("iam") as iam:
        iam.stubber.add_client_error("get_role", service_error_code="NoSuchEntity", http_status_code=404)
        assert strata_aws.describe_or_none(iam, "get_role", "Role", not_found=("NoSuchEntity",), RoleName="r") is None


@pytest.mark.parametrize(
    ("current", "wanted", "purge", "expected"),
    [
        ({"a": "1"}, None, True, ({}, [])),  # tags omitted: left alone, even with purge
        ({"a": "1"}, {}, True, ({}, ["a"])),  # tags: {} with purge: all removed
        ({"a": "1"}, {}, False, ({}, [])),
        ({"a": "1", "b": "2"}, {"a": 1, "c": "3"}, True, ({"c": "3"}, ["b"])),  # values compared as text
        ({"aws:cloudformation:stack": "x"}, {"a": "1"}, True, ({"a": "1"}, [])),  # aws:* is AWS's own
    ],
)
def test_tag_changes(current: dict[str, str], wanted: Any, purge: bool, expected: Any) -> None:
    assert strata_aws.tag_changes(current, wanted, purge) == expected


def test_sync_dict_tags_calls_only_what_differs() -> None:
    arn = "arn:aws:eks:eu-west-3:123456789012:cluster/c"
    with stubbed("eks") as eks:
        assert strata_aws.sync_dict_tags(eks, arn, {"a": "1"}, None, purge=True, check_mode=False) is False
        assert strata_aws.sync_dict_tags(eks, arn, {"a": "1"}, {"a": "1"}, purge=True, check_mode=False) is False
        assert strata_aws.sync_dict_tags(eks, arn, {"a": "1"}, {"b": "2"}, purge=True, check_mode=True) is True
        eks.stubber.add_response("tag_resource", {}, {"resourceArn": arn, "tags": {"b": "2"}})
        eks.stubber.add_response("untag_resource", {}, {"resourceArn": arn, "tagKeys": ["a"]})
        assert strata_aws.sync_dict_tags(eks, arn, {"a": "1"}, {"b": "2"}, purge=True, check_mode=False) is True


def test_tag_lists_and_specifications() -> None:
    assert strata_aws.tags_to_dict([{"Key": "a", "Value": "1"}]) == {"a": "1"}
    assert strata_aws.tags_to_dict(None) == {}
    assert strata_aws.tag_list({"b": 2, "a": "1"}) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert strata_aws.tag_specifications("vpc-flow-log", None) == []
    assert strata_aws.tag_specifications("vpc-flow-log", {"a": "1"}) == [
        {"ResourceType": "vpc-flow-log", "Tags": [{"Key": "a", "Value": "1"}]}
    ]


class Exited(Exception):
    pass


class ShellModule:
    """What finish() uses of AnsibleAWSModule; records how the module ended."""

    def __init__(self, diff: bool) -> None:
        self._diff = diff
        self.ended: dict[str, Any] = {}

    def exit_json(self, **result: Any) -> None:
        self.ended = {"exit": result}
        raise Exited

    def fail_json(self, msg: str, **_: Any) -> None:
        self.ended = {"fail": msg}
        raise Exited

    def fail_json_aws(self, error: Exception, msg: str) -> None:
        self.ended = {"fail_aws": msg, "code": error.response["Error"]["Code"]}  # type: ignore[attr-defined]
        raise Exited


def finish(run: Any, diff: bool = False) -> dict[str, Any]:
    module = ShellModule(diff)
    with pytest.raises(Exited):
        strata_aws.finish(module, run, None, "Failed to manage thing")
    return module.ended


def test_the_shell_exits_with_the_result_and_the_diff_only_in_diff_mode() -> None:
    result = {"changed": True, "thing": {}, "diff": {"before": {}, "after": {}}}
    assert finish(lambda m, c: dict(result)) == {"exit": {"changed": True, "thing": {}}}
    assert finish(lambda m, c: dict(result), diff=True) == {"exit": result}


def test_the_shell_reports_aws_errors_refusals_and_timeouts() -> None:
    def denied(module: Any, client: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeThing")

    def refused(module: Any, client: Any) -> dict[str, Any]:
        raise strata_aws.Refused("cannot downgrade")

    def slow(module: Any, client: Any) -> dict[str, Any]:
        raise strata_aws.WaitTimeout("timed out")

    assert finish(denied) == {"fail_aws": "Failed to manage thing", "code": "AccessDenied"}
    assert finish(refused) == {"fail": "cannot downgrade"}
    assert finish(slow) == {"fail": "timed out"}


def test_option_sets() -> None:
    assert strata_aws.TAG_OPTIONS["tags"] == {"type": "dict", "aliases": ["resource_tags"]}
    assert "default" not in strata_aws.TAG_OPTIONS["tags"]  # omitted = leave the tags alone
    assert strata_aws.wait_options(900)["wait_timeout"]["default"] == 900
