# Tests of the Redis Cluster building blocks (included from cluster.mk).
#
#   shard_integration          notifier/ntf_shard against a private redis-server
#   shard_cluster_integration  ntf_shard + shared/tnd_cluster against a real
#                              3-master cluster (scripts/run-cluster.sh), slot moves
#   test-cluster-valgrind      the shard tests under valgrind (part of test-valgrind)
SHARD_TEST_SUPPORT := $(BUILD)/tests/cluster/shard_rec.o $(BUILD)/tests/support/stack.o

$(BUILD)/tests/cluster/%.o: PROJECT_CFLAGS += -Itests/cluster

$(BUILD)/tests/shard_integration: $(BUILD)/tests/cluster/test_shard.o $(SHARD_TEST_SUPPORT) \
		$(NOTIFIER_LIB_OBJ) $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcriterion $(NOTIFIER_LIBS)

$(BUILD)/tests/shard_cluster_integration: $(BUILD)/tests/cluster/test_shard_cluster.o \
		$(SHARD_TEST_SUPPORT) $(NOTIFIER_LIB_OBJ) $(LIBTANDEM)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcriterion $(NOTIFIER_LIBS)

INTEGRATION_TEST_BINS += $(BUILD)/tests/shard_integration $(BUILD)/tests/shard_cluster_integration

# valgrind: every shard test (criterion's test processes are traced, the
# redis-servers are not); any error or definite/indirect leak fails.
test-cluster-valgrind: $(BUILD)/tests/shard_integration
	valgrind -q --trace-children=yes --trace-children-skip='*redis-server*,/bin/*,/usr/bin/*' \
		--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		$(BUILD)/tests/shard_integration --jobs 1

test-valgrind: test-cluster-valgrind
