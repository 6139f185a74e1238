"""strata: an Ansible-driven N-tier platform on AWS/EKS, rehearsed offline.

Two layers: strata.domain holds the platform's rules (the address plan, the fleet's tag
contract, the environment guards, network policy, node labels), pure and imported by the
Ansible plugins; strata.tools holds what runs and checks the rehearsal (the embedded
cloud, the SSH lab, the runtime, the offline checks, the benchmarks). Tools import the
domain, never the reverse. Ansible modules carry their shared code in
plugins/module_utils instead, because they run wherever Ansible ships them.
"""

PROJECT = "strata"
