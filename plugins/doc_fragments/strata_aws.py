# -*- coding: utf-8 -*-
# Apache-2.0 (see LICENSE of the strata project)
"""Documentation fragments of strata's AWS modules (tags come from amazon.aws.tags)."""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
"""

    # strata_aws.wait: the modules whose resources take minutes on AWS.
    WAIT = r"""
options:
  wait:
    description:
      - Wait until the resource is ready (or deleted with I(state=absent)); the first check is immediate, then every
        10 seconds (the embedded cloud answers at once, AWS takes minutes).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for; the module fails after that, naming what it waited for.
    type: int
"""
