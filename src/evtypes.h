/* SPDX-License-Identifier: MIT */
/*
 * The fields of the newer event types (docs/design/event-types.md): one
 * registry of JSON keys, each with one kind and one slot of struct eg_event
 * (num[] or aux[]) whatever the type, and per type the keys it carries in
 * JSON order. The JSON writer, the replay reader and (through its own copy,
 * checked at start-up) the Lua view loop over it. exec, open, connect and
 * exit keep their hand-written fields.
 */
#ifndef EG_EVTYPES_H
#define EG_EVTYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "event.h"

enum eg_fkind {
	EG_FK_NUM = 1,   /* num[slot], a signed number */
	EG_FK_FLAGS = 2, /* num[slot], written as names joined by '|' */
	EG_FK_STR = 3,   /* aux[slot] */
	EG_FK_ENUM = 4,  /* num[slot], written as its name (unknown: the number in decimal) */
	EG_FK_BOOL = 5,  /* num[slot], written as true (non-zero) or false */
};

struct eg_flag_name {
	uint64_t bit;
	const char *name;
};

struct eg_field {
	const char *key;
	uint8_t kind;
	uint8_t slot;
	const struct eg_flag_name *names; /* EG_FK_FLAGS, EG_FK_ENUM: ends with {0, NULL} */
};

#define EG_TYPE_FIELDS_MAX 8

/* What a type writes after "truncated": its registry fields (indexes into
 * eg_fields) in order, then "ret" when ret is set. */
struct eg_type_fields {
	uint8_t n;
	uint8_t idx[EG_TYPE_FIELDS_MAX];
	bool ret;
};

extern const struct eg_field eg_fields[];
extern const unsigned eg_nfields;

/* NULL for exec, open, connect, exit (and unknown types). */
const struct eg_type_fields *eg_type_fields(uint32_t type);
/* The registry field named k[0..n), or NULL. */
const struct eg_field *eg_field_by_key(const char *k, size_t n);
/* Room for any flags field's text, every bit set (the capability sets' is
 * the longest: 420 bytes of names and a "|0x.." for bits past them);
 * tests/c/test_replay.c checks it. */
#define EG_FLAGS_TEXT_MAX 512
/* "cloexec|allow_sealing", unknown bits as one "0x..": writes at most cap
 * bytes (NUL included); returns the length it needs. */
size_t eg_flags_format(char *out, size_t cap, const struct eg_field *f, uint64_t v);
/* An EG_FK_ENUM value's name, or the number in decimal (out: 24 bytes at
 * least). Returns the text. */
const char *eg_enum_format(char *out, size_t cap, const struct eg_field *f, int64_t v);
/* The reverse: a name or a decimal number; 0 or -1. */
int eg_enum_parse(const struct eg_field *f, const char *s, size_t n, int64_t *v);
/* The reverse; 0, or -1 with the offending name in *bad, *badlen. */
int eg_flags_parse(const struct eg_field *f, const char *s, size_t n, uint64_t *v, const char **bad,
		   size_t *badlen);

#endif
