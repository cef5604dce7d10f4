/*
 * tnd_config_man: the options table as roff, for the programs' --man flag
 * (tnd_config.h). pkg.mk puts the output into man/<program>.8.in, so the
 * manual pages list exactly the options the programs accept.
 */
#include "tnd_config.h"

/* Writes s as roff text: backslashes escaped, hyphens kept as hyphens. */
static void roff_text(FILE *out, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-')
			fputs("\\-", out);
		else
			fputc(*s, out);
	}
}

void tnd_config_man(FILE *out, const struct tnd_option *opts, size_t n_opts)
{
	static const char *const fixed[][2] = {
		{"help", "Print the options, their environment variables and defaults, and exit."},
		{"version", "Print the version and exit."},
		{"man", "Print the OPTIONS and ENVIRONMENT sections of this page (roff) and exit."},
		{"check-config", "Validate every setting, print \"configuration OK\" and exit 0; "
				 "on a bad value print one line naming it and exit 2."},
	};
	static const char *const type_arg[] = {"value", "n", "bool"};

	fputs(".SH OPTIONS\n"
	      "Every option but the first four has an environment variable; the flag wins.\n"
	      "Both forms \\fB\\-\\-flag\\fR \\fIvalue\\fR and "
	      "\\fB\\-\\-flag\\fR=\\fIvalue\\fR are accepted.\n", out);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		fputs(".TP\n.B \\-\\-", out);
		roff_text(out, fixed[i][0]);
		fputc('\n', out);
		roff_text(out, fixed[i][1]);
		fputc('\n', out);
	}
	for (size_t i = 0; i < n_opts; i++) {
		fputs(".TP\n.BI \\-\\-", out);
		roff_text(out, opts[i].flag);
		fprintf(out, " \" %s\"\n", type_arg[opts[i].type]);
		roff_text(out, opts[i].help);
		fputs(".\n.br\nEnvironment: \\fB", out);
		roff_text(out, opts[i].env);
		fputs("\\fR. Default: ", out);
		if (!opts[i].def)
			fputs("unset", out);
		else if (!*opts[i].def)
			fputs("empty", out);
		else {
			fputs("\\fB", out);
			roff_text(out, opts[i].def);
			fputs("\\fR", out);
		}
		if (opts[i].type == TND_OPT_INT)
			fprintf(out, "; range %lld..%lld", opts[i].min, opts[i].max);
		fputs(".\n", out);
	}
	fputs(".SH ENVIRONMENT\n"
	      "Each variable sets the option of the same name above; an empty variable counts as "
	      "unset.\n", out);
	for (size_t i = 0; i < n_opts; i++) {
		fputs(".TP\n.B ", out);
		roff_text(out, opts[i].env);
		fputs("\nSee \\fB\\-\\-", out);
		roff_text(out, opts[i].flag);
		fputs("\\fR.\n", out);
	}
}
