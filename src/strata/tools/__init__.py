"""The project's tools: what runs the rehearsal and checks it, built on strata.domain.

cloud and cloud_server (the embedded cloud), lab and baseimage (the SSH lab), runtime and image (env=local's
service), summary (what `make up` prints), k8s_check (the offline Kubernetes checks), moduledoc and docs (the
documentation the tests hold to the code), bench and bench_http (`make bench`).
"""
