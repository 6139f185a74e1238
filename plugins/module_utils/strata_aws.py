# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Code shared by strata's AWS modules: retries with backoff, tags, and diffs.

Modules import it as ansible.module_utils.strata_aws (ansible.cfg: module_utils =
plugins/module_utils); Ansible ships it with each module.
"""

from __future__ import absolute_import, annotations, division, print_function

import time
from typing import Any, Callable, Dict, List, Mapping, Optional

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Throttling is retried with jittered exponential backoff (AWSRetry already knows the
# throttling error codes); a resource that is not yet visible is retried too, since EC2
# is eventually consistent right after a create.
RETRY_CODES = ["InvalidVpcID.NotFound", "InvalidSubnetID.NotFound", "InvalidFlowLogId.NotFound"]


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


def tags_to_dict(tag_list: Optional[List[Mapping[str, str]]]) -> Dict[str, str]:
    return {t["Key"]: t["Value"] for t in tag_list or []}


def tag_specifications(resource_type: str, tags: Optional[Mapping[str, str]]) -> List[Dict[str, Any]]:
    if not tags:
        return []
    return [{"ResourceType": resource_type, "Tags": [{"Key": k, "Value": str(v)} for k, v in sorted(tags.items())]}]


def tag_changes(current: Mapping[str, str], wanted: Mapping[str, str], purge: bool) -> tuple[Dict[str, str], List[str]]:
    """(tags to set, keys to remove) to go from `current` to `wanted`."""
    to_set = {k: str(v) for k, v in wanted.items() if current.get(k) != str(v)}
    to_remove = sorted(k for k in current if k not in wanted and not k.startswith("aws:")) if purge else []
    return to_set, to_remove


class WaitTimeout(RuntimeError):
    """A resource did not reach the wanted state in time."""


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


def is_error(error: Exception, *codes: str) -> bool:
    """True if `error` is a botocore ClientError with one of `codes`."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code")) in codes


def sync_dict_tags(
    client: Any, arn: str, current: Mapping[str, str], wanted: Mapping[str, str], *, purge: bool, check_mode: bool
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
