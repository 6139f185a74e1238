"""strata: an Ansible-driven N-tier platform on AWS/EKS, rehearsed offline.

This package holds the controller-side Python that Ansible plugins and the project's
tooling share: the address plan, the embedded cloud's lifecycle, and the environment
guards. Ansible modules carry their shared code in plugins/module_utils instead,
because they run wherever Ansible ships them.
"""

PROJECT = "strata"
