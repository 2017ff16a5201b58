/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small JSON reader: enough to take numbers out of fio's
 * --output-format=json. The whole text is parsed into a tree of nodes;
 * strings are kept as given (fio's keys and names need no unescaping).
 */
#ifndef VB_JSON_H
#define VB_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING,
		 JSON_ARRAY, JSON_OBJECT };

struct json_node {
	enum json_type type;
	const char *key;	/* in an object: the member's name */
	size_t key_len;
	const char *str;	/* JSON_STRING: the raw text between quotes */
	size_t str_len;
	double num;		/* JSON_NUMBER, JSON_BOOL (0/1) */
	int child;		/* first child (array, object) or -1 */
	int next;		/* next sibling or -1 */
};

struct json_doc {
	struct json_node *n;
	int count;
	int cap;
	char err[160];
};

/*
 * Parse @len bytes of @text (kept alive by the caller: strings point into
 * it). 0, or -1 with the position and reason in doc->err. Text before the
 * first '{' or '[' (fio may print notes there) is skipped.
 */
int json_parse(struct json_doc *doc, const char *text, size_t len);
void json_free(struct json_doc *doc);
/* Node 0 is the root. The member @key of object @obj, or -1. */
int json_get(const struct json_doc *doc, int obj, const char *key);
/* Element @i of array @arr, or -1. */
int json_at(const struct json_doc *doc, int arr, int i);
/* Follow a path of member names separated by '/' ("read/clat_ns/percentile";
 * fio's keys hold dots), or -1. */
int json_path(const struct json_doc *doc, int from, const char *path);
/* The number at @path under @from; @def when absent or not a number. */
double json_num(const struct json_doc *doc, int from, const char *path,
		double def);

#endif /* VB_JSON_H */
