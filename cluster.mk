# Redis Cluster (issue 14, SPEC section 9): the local cluster. Its tests
# (the sharded subscriber) are in tests/module.mk.
#
#   make run-cluster   3 masters + 3 replicas on 127.0.0.1 (scripts/run-cluster.sh;
#                      TANDEM_CLUSTER_MASTERS / _REPLICAS for other shapes)

.PHONY: run-cluster

run-cluster: deps-check
	@scripts/run-cluster.sh

