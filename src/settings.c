/* SPDX-License-Identifier: MIT */
#include "settings.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Appends one line to err (whole lines only: a line that does not fit is
 * left out). */
static void add_problem(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_problem(char *err, size_t errlen, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	size_t used = strlen(err);
	if (used + strlen(line) + 2 > errlen)
		return;
	snprintf(err + used, errlen - used, "%s%s", used ? "\n" : "", line);
}

static bool is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

void eg_settings_free(struct eg_settings *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].key);
		for (size_t k = 0; k < s->v[i].nvals; k++)
			free(s->v[i].vals[k]);
		free(s->v[i].vals);
	}
	free(s->v);
	free(s->path);
	free(s->problems);
	memset(s, 0, sizeof(*s));
}

static struct eg_setting *grow(struct eg_settings *s)
{
	struct eg_setting *v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	s->v = v;
	memset(&v[s->n], 0, sizeof(*v));
	return &v[s->n++];
}

/* The value node n of entry e: its shape and strings. Returns 0 or -1 (memory). */
static int take_value(yaml_document_t *doc, yaml_node_t *n, struct eg_setting *e)
{
	e->vline = (int)n->start_mark.line + 1;
	e->vcol = (int)n->start_mark.column + 1;
	if (is_null(n)) {
		e->shape = EG_SET_NULL;
		return 0;
	}
	if (n->type == YAML_SCALAR_NODE) {
		e->shape = EG_SET_SCALAR;
		e->plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		e->vals = calloc(1, sizeof(*e->vals));
		if (!e->vals || !(e->vals[0] = strdup((const char *)n->data.scalar.value)))
			return -1;
		e->nvals = 1;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		e->shape = EG_SET_BAD;
		return 0;
	}
	e->shape = EG_SET_LIST;
	size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	e->vals = calloc(cnt ? cnt : 1, sizeof(*e->vals));
	if (!e->vals)
		return -1;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(doc, *it);
		if (!item || item->type != YAML_SCALAR_NODE) {
			e->shape = EG_SET_BAD;
			return 0;
		}
		const char *v = is_null(item) ? "" : (const char *)item->data.scalar.value;
		if (!(e->vals[e->nvals] = strdup(v)))
			return -1;
		e->nvals++;
	}
	return 0;
}

int eg_settings_read(const char *path, struct eg_settings *out, bool *missing, char *err,
		     size_t errlen)
{
	memset(out, 0, sizeof(*out));
	err[0] = 0;
	if (missing)
		*missing = false;
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (missing)
			*missing = errno == ENOENT;
		snprintf(err, errlen, "cannot read settings file %s: %s", path, strerror(errno));
		return -1;
	}
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = -1;
	char *probs = NULL;
	size_t probs_len = 4096;
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: YAML syntax error: %s", path,
			 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "unreadable");
		goto out_parser;
	}
	if (!(out->path = strdup(path))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out_doc;
	}
	if (!(probs = calloc(1, probs_len))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out_doc;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root && !is_null(root)) {
		if (root->type != YAML_MAPPING_NODE) {
			snprintf(err, errlen, "%s:%zu:%zu: expected a mapping of settings (key: value)",
				 path, root->start_mark.line + 1, root->start_mark.column + 1);
			goto out_doc;
		}
		for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
		     pr < root->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = yaml_document_get_node(&doc, pr->key);
			yaml_node_t *v = yaml_document_get_node(&doc, pr->value);
			if (!k || !v)
				continue;
			size_t kl = k->start_mark.line + 1, kc = k->start_mark.column + 1;
			if (k->type != YAML_SCALAR_NODE) {
				add_problem(probs, probs_len, "%s:%zu:%zu: a key must be a flag name",
					    path, kl, kc);
				continue;
			}
			const char *key = (const char *)k->data.scalar.value;
			const struct eg_setting *prev = eg_settings_get(out, key);
			if (prev) {
				add_problem(probs, probs_len,
					    "%s:%zu:%zu: %s is given twice (first on line %d)", path, kl,
					    kc, key, prev->line);
				continue;
			}
			struct eg_setting *e = grow(out);
			if (!e || !(e->key = strdup(key)) || take_value(&doc, v, e)) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out_doc;
			}
			e->line = (int)kl;
			e->col = (int)kc;
		}
	}
	if (!err[0]) {
		/* a second document ("---" again) would be read by nobody */
		yaml_document_t next;
		if (!yaml_parser_load(&parser, &next)) {
			snprintf(err, errlen, "%s:%zu:%zu: YAML syntax error: %s", path,
				 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				 parser.problem ? parser.problem : "unreadable");
		} else {
			yaml_node_t *r2 = yaml_document_get_root_node(&next);
			if (r2)
				snprintf(err, errlen, "%s:%zu:%zu: only one YAML document is read: "
						      "remove the second one",
					 path, r2->start_mark.line + 1, r2->start_mark.column + 1);
			yaml_document_delete(&next);
		}
	}
	rc = err[0] ? -1 : 0;
	if (!rc && probs[0]) {
		out->problems = probs;
		probs = NULL;
	}
out_doc:
	free(probs);
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	fclose(f);
	if (err[0])
		rc = -1;
	if (rc)
		eg_settings_free(out);
	return rc;
}

const struct eg_setting *eg_settings_get(const struct eg_settings *s, const char *key)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (!strcmp(s->v[i].key, key))
			return &s->v[i];
	return NULL;
}

bool eg_setting_same(const struct eg_setting *a, const struct eg_setting *b)
{
	if (!a || !b)
		return a == b;
	if (a->shape != b->shape || a->nvals != b->nvals || a->plain != b->plain)
		return false;
	for (size_t i = 0; i < a->nvals; i++)
		if (strcmp(a->vals[i], b->vals[i]))
			return false;
	return true;
}

int eg_settings_add_copy(struct eg_settings *s, const struct eg_setting *src)
{
	struct eg_setting *e = grow(s);
	if (!e)
		return -1;
	*e = *src;
	e->vals = NULL;
	e->nvals = 0;
	if (!(e->key = strdup(src->key)))
		return -1;
	if (src->nvals && !(e->vals = calloc(src->nvals, sizeof(*e->vals))))
		return -1;
	for (size_t i = 0; i < src->nvals; i++) {
		if (!(e->vals[i] = strdup(src->vals[i])))
			return -1;
		e->nvals++;
	}
	return 0;
}

size_t eg_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return (size_t)-1;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}
