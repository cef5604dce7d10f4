/*
 * Unit tests of ntf_ws's pure helpers: the Origin list and the listen address.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ntf_ws.h"

static bool allowed(const char *list, const char *origin)
{
	return ntf_ws_origin_allowed(list, origin, strlen(origin));
}

Test(ws, origin_list_matches_whole_items_only)
{
	const char *list = "https://a.example, http://b.example:8080 ,https://c.example";

	cr_assert(allowed(list, "https://a.example"));
	cr_assert(allowed(list, "http://b.example:8080"));
	cr_assert(allowed(list, "https://c.example"));
	cr_assert_not(allowed(list, "https://a.example.evil"));
	cr_assert_not(allowed(list, "https://a.exampl"));
	cr_assert_not(allowed(list, "http://b.example"));
	cr_assert_not(allowed(list, ""));
	cr_assert_not(allowed("", "https://a.example"));
}

Test(ws, listen_addresses_parse)
{
	struct ntf_ws_config cfg;
	char err[100];

	cr_assert_eq(ntf_ws_parse_listen("127.0.0.1:8081", &cfg, err, sizeof(err)), 0);
	cr_assert_str_eq(cfg.host, "127.0.0.1");
	cr_assert_eq(cfg.port, 8081);
	cr_assert_eq(ntf_ws_parse_listen("[::1]:9000", &cfg, err, sizeof(err)), 0);
	cr_assert_str_eq(cfg.host, "::1");
	cr_assert_eq(ntf_ws_parse_listen("0.0.0.0:80", &cfg, err, sizeof(err)), 0);
	cr_assert_str_eq(cfg.host, "");
	cr_assert_eq(ntf_ws_parse_listen("localhost", &cfg, err, sizeof(err)), -1);
	cr_assert_eq(ntf_ws_parse_listen("h:0", &cfg, err, sizeof(err)), -1);
	cr_assert_eq(ntf_ws_parse_listen("h:65536", &cfg, err, sizeof(err)), -1);
	cr_assert_eq(ntf_ws_parse_listen("h:80x", &cfg, err, sizeof(err)), -1);
}
