# tandem-rest: the FastCGI worker. REST_LIB_OBJ is everything but main.c,
# so the unit tests link the same code.
REST_SRC := $(filter-out rest-fcgi/main.c,$(wildcard rest-fcgi/*.c))
REST_LIB_OBJ := $(REST_SRC:%.c=$(BUILD)/%.o)
REST_LIBS := -lfcgi $(LIBS_COMMON) -lm

$(BUILD)/tandem-rest: $(BUILD)/rest-fcgi/main.o $(REST_LIB_OBJ) $(LIBTANDEM)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(REST_LIBS)

ALL_BINS += $(BUILD)/tandem-rest
