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
#include <unistd.h>

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
	ut_vu_cases, ut_bench_cases,
};

/* Run @c in a child; its verdict line goes to stdout. */
static bool run(const struct ut_case *c)
{
	struct ut t = { "" };
	int pfd[2], status;
	ssize_t got = 0, r;
	pid_t pid;

	if (pipe(pfd)) {
		perror("pipe");
		exit(2);
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (!pid) {
		int fail;

		close(pfd[0]);
		alarm(UT_TIMEOUT_S);
		fail = c->fn(&t);
		if (!fail)
			t.why[0] = 0;
		else if (!t.why[0])
			strcpy(t.why, "failed without saying why");
		if (write(pfd[1], t.why, strlen(t.why) + 1) < 0)
			_exit(3);
		_exit(fail ? 1 : 0);
	}
	close(pfd[1]);
	while (got < (ssize_t)sizeof(t.why) - 1 &&
	       (r = read(pfd[0], t.why + got, sizeof(t.why) - 1 - got)) > 0)
		got += r;
	t.why[got] = 0;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("PASS %s\n", c->name);
		return true;
	}
	if (WIFSIGNALED(status))
		printf("FAIL %s: killed by signal %d (%s)%s\n", c->name,
		       WTERMSIG(status), strsignal(WTERMSIG(status)),
		       WTERMSIG(status) == SIGALRM ? ": timed out" : "");
	else
		printf("FAIL %s: %s\n", c->name, got ? t.why : "no verdict");
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
	unsigned int i, failed = 0, ran = 0;
	const struct ut_case *c;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		for (c = tables[i]; c->name; c++) {
			if (!wanted(c->name, argc, argv))
				continue;
			ran++;
			failed += !run(c);
		}
	if (!ran) {
		fprintf(stderr, "vblk-unit: no test matches\n");
		return 2;
	}
	return failed ? 1 : 0;
}
