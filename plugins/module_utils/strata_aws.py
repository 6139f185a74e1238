# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""The module kit of strata's AWS modules: one shell for every module, retries, not-found reads, tags, waits.

Modules import it as ansible.module_utils.strata_aws (ansible.cfg: module_utils = plugins/module_utils); Ansible
ships it with each module. A module is its DOCUMENTATION, a `run(module, client)` that returns the result (with a
`diff`), and a `main()` that hands its argument spec to run_module(), as kubernetes.core's modules do.

Tags follow amazon.aws: its tagging helpers compare and convert them, and `tags` omitted (None) leaves a resource's
tags alone; `tags: {}` with `purge_tags: true` removes them (the amazon.aws.tags documentation fragment).
"""

from __future__ import absolute_import, annotations, division, print_function

import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # AnsibleAWSModule reports the missing dependency
    BotoCoreError = ClientError = None

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

# Throttling is retried with jittered exponential backoff (AWSRetry already knows the
# throttling error codes); a resource that is not yet visible is retried too, since EC2
# is eventually consistent right after a create.
RETRY_CODES = ["InvalidVpcID.NotFound", "InvalidSubnetID.NotFound", "InvalidFlowLogId.NotFound"]

# The options every tagged module takes, as amazon.aws's modules do (documented by the amazon.aws.tags fragment).
TAG_OPTIONS: Dict[str, Any] = dict(
    tags=dict(type="dict", aliases=["resource_tags"]),
    purge_tags=dict(type="bool", default=True),
)


def wait_options(timeout: int) -> Dict[str, Any]:
    """The options of a module that can wait (documented by the strata_aws.wait fragment)."""
    return dict(wait=dict(type="bool", default=True), wait_timeout=dict(type="int", default=timeout))


class Refused(RuntimeError):
    """A change the module will not make (AWS cannot make it in place, or it would lose data): a failure, with why."""


class WaitTimeout(RuntimeError):
    """A resource did not reach the wanted state in time."""


def retrying(retries: int = 8, delay: float = 1.0, max_delay: float = 30.0) -> Callable[..., Any]:
    """A decorator for one API call: retries throttling and eventual-consistency errors."""
    decorator: Callable[..., Any] = AWSRetry.jittered_backoff(
        retries=retries, delay=delay, max_delay=max_delay, catch_extra_error_codes=RETRY_CODES
    )
    return decorator


def call(client: Any, operation: str, **params: Any) -> Dict[str, Any]:
    """Call `operation` on a boto3 client with strata's retry policy."""
    response: Dict[str, Any] = retrying()(getattr(client, operation))(**params)
    return response


def is_error(error: Exception, *codes: str) -> bool:
    """True if `error` is a botocore ClientError with one of `codes`."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code")) in codes


def describe_or_none(
    client: Any, operation: str, key: str, *, not_found: Tuple[str, ...] = ("ResourceNotFoundException",), **params: Any
) -> Optional[Dict[str, Any]]:
    """response[key] of a describe call, or None when the resource does not exist (one of the `not_found` codes)."""
    try:
        found: Dict[str, Any] = call(client, operation, **params)[key]
    except ClientError as error:
        if is_error(error, *not_found):
            return None
        raise
    return found


def tags_to_dict(tag_list: Optional[List[Mapping[str, str]]]) -> Dict[str, str]:
    """AWS's Key/Value tag list as a dict (amazon.aws's helper)."""
    converted: Dict[str, str] = boto3_tag_list_to_ansible_dict(tag_list or [])
    return converted


def tag_list(tags: Mapping[str, Any]) -> List[Dict[str, str]]:
    """A dict of tags as AWS's Key/Value list, sorted by key (amazon.aws's helper)."""
    converted: List[Dict[str, str]] = ansible_dict_to_boto3_tag_list({k: str(v) for k, v in sorted(tags.items())})
    return converted


def tag_specifications(resource_type: str, tags: Optional[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """EC2's TagSpecifications for a create call (nothing when there are no tags)."""
    if not tags:
        return []
    return [{"ResourceType": resource_type, "Tags": tag_list(tags)}]


def tag_changes(
    current: Mapping[str, str], wanted: Optional[Mapping[str, Any]], purge: bool
) -> Tuple[Dict[str, str], List[str]]:
    """(tags to set, keys to remove) to go from `current` to `wanted`; `wanted` None leaves the tags alone.
    AWS's own aws:* tags are never removed (amazon.aws's compare_aws_tags)."""
    if wanted is None:
        return {}, []
    to_set, to_remove = compare_aws_tags(dict(current), {k: str(v) for k, v in wanted.items()}, purge_tags=purge)
    return {k: str(v) for k, v in to_set.items()}, sorted(to_remove)


def sync_dict_tags(
    client: Any,
    arn: str,
    current: Mapping[str, str],
    wanted: Optional[Mapping[str, Any]],
    *,
    purge: bool,
    check_mode: bool,
) -> bool:
    """Reconcile the tags of a resource whose API takes tags as a dict keyed by an ARN
    (EKS: tag_resource / untag_resource). Returns whether anything changed."""
    to_set, to_remove = tag_changes(current, wanted, purge)
    if check_mode or not (to_set or to_remove):
        return bool(to_set or to_remove)
    if to_set:
        call(client, "tag_resource", resourceArn=arn, tags=to_set)
    if to_remove:
        call(client, "untag_resource", resourceArn=arn, tagKeys=to_remove)
    return True


def wait_until(
    probe: Callable[[], Any],
    done: Callable[[Any], bool],
    *,
    timeout: float,
    what: str,
    delay: float = 10.0,
    sleep: Optional[Callable[[float], None]] = None,
    clock: Optional[Callable[[], float]] = None,
) -> Any:
    """Call `probe` until `done(result)`; the first probe is immediate, then every `delay`
    seconds (the embedded cloud is ready at once, AWS takes minutes). Raises WaitTimeout."""
    now = clock or time.monotonic
    deadline = now() + timeout
    while True:
        result = probe()
        if done(result):
            return result
        if now() + delay > deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}")
        (sleep or time.sleep)(delay)


def finish(module: Any, run: Callable[[Any, Any], Dict[str, Any]], client: Any, failure: str) -> None:
    """Run, then exit with the result (its diff only in diff mode), or fail: AWS's errors with their code and
    `failure` as the message, Refused and WaitTimeout with their own words."""
    try:
        result = run(module, client)
    except (BotoCoreError, ClientError) as error:
        module.fail_json_aws(error, msg=failure)
    except (Refused, WaitTimeout) as error:
        module.fail_json(msg=str(error))
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


def run_module(
    argument_spec: Dict[str, Any],
    run: Callable[[Any, Any], Dict[str, Any]],
    *,
    service: str,
    failure: Union[str, Callable[[Dict[str, Any]], str]],
    check: Optional[Callable[[Dict[str, Any]], Optional[str]]] = None,
    **module_options: Any,
) -> None:
    """The whole shell of a strata AWS module: the argument spec (check mode always supported), `check(params)` for
    what a spec cannot say (a message refuses the input before any client exists), the `service` client, `run`."""
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True, **module_options)
    problem = check(module.params) if check else None
    if problem:
        module.fail_json(msg=problem)
    message = failure(module.params) if callable(failure) else failure
    finish(module, run, module.client(service), message)
