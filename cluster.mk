# Redis Cluster (issue 14, SPEC section 9): local clusters. Their tests are
# in tests/module.mk.
#
#   make run-cluster    the whole stack (as make run) on a local cluster of
#                       3 masters + 3 replicas (TANDEM_REDIS_CLUSTER=1 make run
#                       does the same); state under TANDEM_RUN_DIR (./var)
#   make redis-cluster  the cluster alone (scripts/run-cluster.sh; prints its
#                       TANDEM_REDIS_URL; TANDEM_CLUSTER_MASTERS / _REPLICAS
#                       for other shapes)

.PHONY: run-cluster redis-cluster

run-cluster: deps-check all
	@TANDEM_STACK_REDIS=cluster scripts/run-stack.sh

redis-cluster: deps-check
	@scripts/run-cluster.sh
