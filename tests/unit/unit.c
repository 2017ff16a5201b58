// SPDX-License-Identifier: GPL-2.0-only
/*
 * Run the unit tests, each in its own process with a time limit, and print
 * "PASS name" or "FAIL name: why" for each. Exit status 1 if any failed.
 * Arguments: names of tests to run (default: all).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "runner.h"
#include "unit.h"

#define UT_TIMEOUT_S	30

void ut_fail(struct ut *t, const char *file, int line, const char *cond,
	     const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(t->why, sizeof(t->why), "%s:%d: ", file, line);
	va_start(ap, fmt);
	n += vsnprintf(t->why + n, sizeof(t->why) - n, fmt, ap);
	va_end(ap);
	if (n < (int)sizeof(t->why))
		snprintf(t->why + n, sizeof(t->why) - n, " [%s]", cond);
}

static const struct ut_case *const tables[] = {
	ut_mem_cases, ut_vring_cases, ut_req_cases, ut_pattern_cases,
	ut_vu_cases, ut_bench_cases, ut_logwrites_cases, ut_bridge_cases,
};

/* In the test's own process (lib/runner.c). */
static int run_child(void *arg, char *msg, size_t len)
{
	const struct ut_case *c = arg;
	struct ut t = { "" };

	if (!c->fn(&t))
		return VBLK_PASS;
	snprintf(msg, len, "%s", t.why[0] ? t.why : "failed without saying why");
	return VBLK_FAIL;
}

/*
 * Run @c in a child; its verdict line goes to stdout. *stuck if its
 * process could not be ended.
 */
static bool run(const struct ut_case *c, bool *stuck)
{
	struct vblk_test_run r = {
		.fn = run_child, .arg = (void *)c,
		.timeout_s = UT_TIMEOUT_S, .grace_s = 10,
	};
	struct vblk_verdict v;
	int status;

	*stuck = !vblk_test_run(&r, &v);
	if (v.setup_failed) {
		fprintf(stderr, "%s\n", v.msg);
		exit(2);
	}
	status = v.status;
	if (v.res == VBLK_PASS ||
	    (v.res < 0 && !v.stuck && WIFEXITED(status) &&
	     WEXITSTATUS(status) == 0)) {
		printf("PASS %s\n", c->name);
		return true;
	}
	if (v.stuck)
		printf("FAIL %s: still running %u s after its time limit of %u s and unkillable\n",
		       c->name, 2 * r.grace_s, UT_TIMEOUT_S);
	else if (v.res < 0 && WIFSIGNALED(status))
		printf("FAIL %s: killed by signal %d (%s)%s\n", c->name,
		       WTERMSIG(status), strsignal(WTERMSIG(status)),
		       WTERMSIG(status) == SIGALRM ? ": timed out" : "");
	else
		printf("FAIL %s: %s\n", c->name, v.res < 0 ? "no verdict" : v.msg);
	return false;
}

static bool wanted(const char *name, int argc, char **argv)
{
	int i;

	if (argc < 2)
		return true;
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	unsigned int i, failed = 0, ran = 0, want = 0;
	const struct ut_case *c;
	bool stuck;

	/* How many results follow (check.sh fails on fewer). */
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		for (c = tables[i]; c->name; c++)
			want += wanted(c->name, argc, argv);
	if (want) {
		printf("# expect %u unit\n", want);
		fflush(stdout);
	}
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		for (c = tables[i]; c->name; c++) {
			if (!wanted(c->name, argc, argv))
				continue;
			ran++;
			failed += !run(c, &stuck);
			if (stuck)
				return 1;
		}
	if (!ran) {
		fprintf(stderr, "vblk-unit: no test matches\n");
		return 2;
	}
	return failed ? 1 : 0;
}
