// SPDX-License-Identifier: GPL-2.0-only
/* The JSON reader: recursive descent over the text, nodes in one array. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define MAX_DEPTH	64

struct parser {
	struct json_doc *doc;
	const char *s;
	size_t len;
	size_t pos;
	int depth;
};

static int fail(struct parser *p, const char *why)
{
	snprintf(p->doc->err, sizeof(p->doc->err), "JSON: %s at byte %zu",
		 why, p->pos);
	return -1;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]))
		p->pos++;
}

static int new_node(struct parser *p, enum json_type type)
{
	struct json_doc *d = p->doc;

	if (d->count == d->cap) {
		int cap = d->cap ? 2 * d->cap : 256;
		struct json_node *n = realloc(d->n, cap * sizeof(*n));

		if (!n)
			return fail(p, "out of memory");
		d->n = n;
		d->cap = cap;
	}
	memset(&d->n[d->count], 0, sizeof(d->n[0]));
	d->n[d->count].type = type;
	d->n[d->count].child = -1;
	d->n[d->count].next = -1;
	return d->count++;
}

/* A string's raw text: *start and *len; pos after the closing quote. */
static int string(struct parser *p, const char **start, size_t *len)
{
	size_t i = ++p->pos;

	while (i < p->len && p->s[i] != '"') {
		if (p->s[i] == '\\')
			i++;
		i++;
	}
	if (i >= p->len)
		return fail(p, "unterminated string");
	*start = p->s + p->pos;
	*len = i - p->pos;
	p->pos = i + 1;
	return 0;
}

static int value(struct parser *p);

/* Members or elements up to @close; children linked under @node. */
static int members(struct parser *p, int node, char close, bool keys)
{
	int prev = -1;

	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		const char *key = NULL;
		size_t key_len = 0;
		int c;

		skip_ws(p);
		if (keys) {
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return fail(p, "expected a member name");
			if (string(p, &key, &key_len))
				return -1;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return fail(p, "expected ':'");
			p->pos++;
		}
		c = value(p);
		if (c < 0)
			return -1;
		p->doc->n[c].key = key;
		p->doc->n[c].key_len = key_len;
		if (prev < 0)
			p->doc->n[node].child = c;
		else
			p->doc->n[prev].next = c;
		prev = c;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		return fail(p, keys ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int literal(struct parser *p, const char *word, enum json_type type,
		   double num)
{
	size_t n = strlen(word);
	int node;

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
		return fail(p, "unexpected character");
	node = new_node(p, type);
	if (node >= 0)
		p->doc->n[node].num = num;
	p->pos += n;
	return node;
}

static int value(struct parser *p)
{
	int node, ret;
	char c;

	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, "unexpected end");
	c = p->s[p->pos];
	if (c == '{' || c == '[') {
		if (++p->depth > MAX_DEPTH)
			return fail(p, "nested too deeply");
		node = new_node(p, c == '{' ? JSON_OBJECT : JSON_ARRAY);
		if (node < 0)
			return -1;
		ret = members(p, node, c == '{' ? '}' : ']', c == '{');
		p->depth--;
		return ret ? -1 : node;
	}
	if (c == '"') {
		node = new_node(p, JSON_STRING);
		if (node < 0 || string(p, &p->doc->n[node].str,
				       &p->doc->n[node].str_len))
			return -1;
		return node;
	}
	if (c == 't')
		return literal(p, "true", JSON_BOOL, 1);
	if (c == 'f')
		return literal(p, "false", JSON_BOOL, 0);
	if (c == 'n')
		return literal(p, "null", JSON_NULL, 0);
	if (c == '-' || (c >= '0' && c <= '9')) {
		char buf[64], *end;
		size_t n = 0;

		while (p->pos + n < p->len && n < sizeof(buf) - 1 &&
		       strchr("+-0123456789.eE", p->s[p->pos + n]))
			n++;
		memcpy(buf, p->s + p->pos, n);
		buf[n] = 0;
		node = new_node(p, JSON_NUMBER);
		if (node < 0)
			return -1;
		p->doc->n[node].num = strtod(buf, &end);
		if (end != buf + n)
			return fail(p, "bad number");
		p->pos += n;
		return node;
	}
	return fail(p, "unexpected character");
}

int json_parse(struct json_doc *doc, const char *text, size_t len)
{
	struct parser p = { .doc = doc, .s = text, .len = len };

	memset(doc, 0, sizeof(*doc));
	while (p.pos < len && text[p.pos] != '{' && text[p.pos] != '[')
		p.pos++;
	if (p.pos == len) {
		snprintf(doc->err, sizeof(doc->err), "JSON: no object or array in %zu bytes",
			 len);
		return -1;
	}
	if (value(&p) < 0)
		return -1;
	return 0;
}

void json_free(struct json_doc *doc)
{
	free(doc->n);
	memset(doc, 0, sizeof(*doc));
}

int json_get(const struct json_doc *doc, int obj, const char *key)
{
	size_t len = strlen(key);
	int c;

	if (obj < 0 || obj >= doc->count || doc->n[obj].type != JSON_OBJECT)
		return -1;
	for (c = doc->n[obj].child; c >= 0; c = doc->n[c].next)
		if (doc->n[c].key_len == len && !memcmp(doc->n[c].key, key, len))
			return c;
	return -1;
}

int json_at(const struct json_doc *doc, int arr, int i)
{
	int c;

	if (arr < 0 || arr >= doc->count || doc->n[arr].type != JSON_ARRAY)
		return -1;
	for (c = doc->n[arr].child; c >= 0 && i > 0; c = doc->n[c].next)
		i--;
	return c;
}

int json_path(const struct json_doc *doc, int from, const char *path)
{
	char name[128];

	while (from >= 0 && *path) {
		size_t n = strcspn(path, "/");

		if (n >= sizeof(name))
			return -1;
		memcpy(name, path, n);
		name[n] = 0;
		from = json_get(doc, from, name);
		path += n + (path[n] == '/');
	}
	return from;
}

double json_num(const struct json_doc *doc, int from, const char *path,
		double def)
{
	int n = json_path(doc, from, path);

	if (n < 0 || doc->n[n].type != JSON_NUMBER)
		return def;
	return doc->n[n].num;
}
