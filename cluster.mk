# Redis Cluster (issue 14, SPEC section 9): the local cluster and the tests
# of the cluster building blocks. Included from the top Makefile before
# tests/module.mk, so the test lists below reach its test targets.
#
#   make run-cluster   3 masters + 3 replicas on 127.0.0.1 (scripts/run-cluster.sh)

.PHONY: run-cluster test-cluster-valgrind

run-cluster: deps-check
	@scripts/run-cluster.sh

include tests/cluster/module.mk
