# tandem-token: signs development tokens (SPEC section 6 claims).
$(BUILD)/tandem-token: $(BUILD)/token/main.o $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_COMMON)

ALL_BINS += $(BUILD)/tandem-token
