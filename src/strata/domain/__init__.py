"""The platform's domain: the rules that hold whatever runs them, pure and unit-tested.

address_plan (the seed's CIDR table mapped to what AWS accepts), fleet (the tag contract: which instance is a node,
which the bastion; the environment's resource name), guards (where each environment may send its AWS calls),
network_policy (the NACL rules the address plan implies), kubernetes_nodes (node groups' labels and taints as the
kubelet, Cluster Autoscaler and EKS spell them). Imported by the Ansible plugins and by the tools; imports neither.
"""
