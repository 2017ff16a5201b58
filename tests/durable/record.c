// SPDX-License-Identifier: GPL-2.0-only
/*
 * The run's record, as text:
 *
 *   vdurable 1 seed=S capacity=SECTORS lbs=BYTES mode=MODE
 *   W SECTOR NSECT          a write; the Nth W or Z line is generation N
 *   Z SECTOR NSECT          a write zeroes
 *   M NAME DURABLE ISSUED FLUSHED
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "durable.h"

static const char *const mode_names[] = {
	[DUR_WRITEBACK] = "writeback",
	[DUR_WRITETHROUGH] = "writethrough",
	[DUR_SWITCH] = "switch",
	[DUR_NOFLUSH] = "noflush",
};

const char *dur_mode_name(enum dur_mode m)
{
	return mode_names[m];
}

int dur_mode_parse(const char *s, enum dur_mode *m)
{
	unsigned int i;

	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (!strcmp(s, mode_names[i])) {
			*m = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int grow(void **p, uint32_t *cap, uint32_t n, size_t size)
{
	void *q;
	uint32_t c;

	if (n < *cap)
		return 0;
	c = *cap ? 2 * *cap : 256;
	q = realloc(*p, (size_t)c * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

int dur_add_op(struct dur_record *r, uint64_t sector, uint32_t nsect,
	       bool zeroes)
{
	if (grow((void **)&r->ops, &r->cap_ops, r->nops, sizeof(*r->ops)))
		return -ENOMEM;
	r->ops[r->nops++] = (struct dur_op){ sector, nsect, zeroes };
	return 0;
}

int dur_add_mark(struct dur_record *r, const char *name, uint32_t durable,
		 bool flushed)
{
	struct dur_mark *m;

	if (grow((void **)&r->marks, &r->cap_marks, r->nmarks,
		 sizeof(*r->marks)))
		return -ENOMEM;
	m = &r->marks[r->nmarks++];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->durable = durable;
	m->issued = r->nops;
	m->flushed = flushed;
	return 0;
}

int dur_save(const struct dur_record *r, const char *path, char *err,
	     size_t len)
{
	FILE *f = fopen(path, "w");
	uint32_t i, m = 0;

	if (!f) {
		snprintf(err, len, "cannot create the record %s: %s", path,
			 strerror(errno));
		return -1;
	}
	fprintf(f, "vdurable 1 seed=%" PRIu64 " capacity=%" PRIu64 " lbs=%u mode=%s\n",
		r->seed, r->capacity, r->lbs, dur_mode_name(r->mode));
	for (i = 0; i <= r->nops; i++) {
		for (; m < r->nmarks && r->marks[m].issued == i; m++)
			fprintf(f, "M %s %u %u %d\n", r->marks[m].name,
				r->marks[m].durable, r->marks[m].issued,
				r->marks[m].flushed);
		if (i < r->nops)
			fprintf(f, "%c %" PRIu64 " %u\n",
				r->ops[i].zeroes ? 'Z' : 'W', r->ops[i].sector,
				r->ops[i].nsect);
	}
	if (fclose(f)) {
		snprintf(err, len, "writing the record %s: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static int bad_line(char *err, size_t len, const char *path,
		    unsigned int line, const char *what)
{
	snprintf(err, len, "%s line %u: %s", path, line, what);
	return -1;
}

int dur_load(struct dur_record *r, const char *path, char *err, size_t len)
{
	FILE *f = fopen(path, "r");
	char buf[256], mode[32], name[32], kind;
	unsigned int line = 1;
	uint64_t sector;
	uint32_t n, durable, issued;
	int flushed;

	memset(r, 0, sizeof(*r));
	if (!f) {
		snprintf(err, len, "cannot open the record %s: %s (run 'vdurable run' first)",
			 path, strerror(errno));
		return -1;
	}
	if (!fgets(buf, sizeof(buf), f) ||
	    sscanf(buf, "vdurable 1 seed=%" SCNu64 " capacity=%" SCNu64 " lbs=%u mode=%31s",
		   &r->seed, &r->capacity, &r->lbs, mode) != 4 ||
	    dur_mode_parse(mode, &r->mode) || !r->lbs || r->lbs % VBLK_SECTOR) {
		fclose(f);
		return bad_line(err, len, path, line, "not a vdurable record");
	}
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		if (sscanf(buf, "%c", &kind) != 1)
			goto bad;
		if (kind == 'M') {
			if (sscanf(buf, "M %31s %u %u %d", name, &durable,
				   &issued, &flushed) != 4 ||
			    issued != r->nops || durable > issued ||
			    dur_add_mark(r, name, durable, flushed))
				goto bad;
			continue;
		}
		if ((kind != 'W' && kind != 'Z') ||
		    sscanf(buf + 1, " %" SCNu64 " %u", &sector, &n) != 2 ||
		    !n || sector > r->capacity || n > r->capacity - sector ||
		    dur_add_op(r, sector, n, kind == 'Z'))
			goto bad;
	}
	fclose(f);
	return 0;
bad:
	fclose(f);
	dur_free(r);
	return bad_line(err, len, path, line, "malformed");
}

void dur_free(struct dur_record *r)
{
	free(r->ops);
	free(r->marks);
	memset(r, 0, sizeof(*r));
}
