/* SPDX-License-Identifier: MIT */
/*
 * The settings file (-config-file, default /etc/ebpf-guard/ebpf-guard.yaml):
 * a YAML mapping of flag names (without the dash) to a string, a boolean or
 * a list of strings. This reads its shape only (libyaml); which keys exist
 * and what their values mean is the flag table's business (main.c), so that
 * every flag is a key without a line here.
 */
#ifndef EG_SETTINGS_H
#define EG_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

/* The default path, unless EBPF_GUARD_CONFIG_FILE names another ('' for none). */
#define EG_SETTINGS_DEFAULT "/etc/ebpf-guard/ebpf-guard.yaml"

enum eg_setting_shape {
	EG_SET_NULL,   /* "key:" with nothing after it */
	EG_SET_SCALAR, /* one value: vals[0] */
	EG_SET_LIST,   /* a sequence of scalars: vals[0..nvals) */
	EG_SET_BAD,    /* a mapping, or a sequence holding more than scalars */
};

struct eg_setting {
	char *key;
	enum eg_setting_shape shape;
	char **vals; /* the scalars' text, NUL-terminated */
	size_t nvals;
	bool plain;  /* EG_SET_SCALAR written without quotes (true/false are booleans) */
	int line, col; /* 1-based, of the key */
	int vline, vcol; /* of the value */
};

struct eg_settings {
	char *path;
	struct eg_setting *v;
	size_t n;
	/* problems of single entries (a key that is not a string, a key given
	 * twice: those entries are left out), one per line; NULL when none */
	char *problems;
};

/*
 * Reads path into *out (zeroed first). An empty file, or one holding only
 * comments, is an empty mapping. Returns 0 (see out->problems); or -1 with
 * one line in err, "PATH:LINE:COL: problem" (a YAML syntax error, a top level
 * that is not a mapping, a second document) or "cannot read settings file
 * PATH: reason"; *out is then empty. missing is set (when not NULL) when the
 * file does not exist.
 */
int eg_settings_read(const char *path, struct eg_settings *out, bool *missing, char *err,
		     size_t errlen);
void eg_settings_free(struct eg_settings *s);

/* The entry for key, or NULL. */
const struct eg_setting *eg_settings_get(const struct eg_settings *s, const char *key);

/* true when a and b (either may be NULL: not given) hold the same values. */
bool eg_setting_same(const struct eg_setting *a, const struct eg_setting *b);

/* Appends a deep copy of e to s. Returns 0, or -1 when out of memory. */
int eg_settings_add_copy(struct eg_settings *s, const struct eg_setting *e);

/* Edit distance between a and b (insertions, deletions, substitutions). */
size_t eg_edit_distance(const char *a, const char *b);

#endif
