/* SPDX-License-Identifier: MIT */
/* The embedded LuaJIT detection engine: one lua_State with the compiled rule
 * set of one configuration. Hot reload builds a new engine and swaps. */
#ifndef EG_ENGINE_H
#define EG_ENGINE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include "event.h"

struct eg_engine;

/* Room for every problem of a configuration (eg_engine_new's err): longer
 * texts are cut at a line end and end with a line counting the rest. */
#define EG_ERR_MAX (64 * 1024)

/* What an alert of a rule does besides being raised (docs/response.md). */
enum eg_action {
	EG_ACTION_ALERT = 0, /* alert only (the default) */
	EG_ACTION_KILL = 1,  /* also SIGKILL the process (enforced with -enforce) */
};

struct eg_rule_info {
	const char *id;
	const char *description;
	const char *severity;   /* debug info notice warning error critical */
	const char *tags_json;  /* a JSON array, e.g. ["T1059"] */
	const char *source;     /* file it came from, "builtin" for built-ins */
	const char *kind;       /* "builtin", "yaml" (a YAML rule) or "lua" (a Lua detection) */
	uint32_t action;        /* enum eg_action */
};

struct eg_engine_opts {
	const char *lua_path;        /* NULL: use the embedded engine sources */
	const char *const *configs;  /* rule files, .lua files or directories */
	size_t nconfigs;
	uint32_t budget;             /* instructions per user call; 0 = default */
	/* Errors in a row after which a Lua detection or condition is taken out
	 * of service until the next reload: 0 = the default (100), -1 = never. */
	int max_errors;
	/* MiB of memory one Lua call may allocate (0 = the default, 64); the
	 * whole Lua heap is capped at 16 times that. */
	uint32_t mem_limit_mb;
	/* When *abort becomes non-zero (set from another thread), the Lua code
	 * building this engine stops at its next count-hook check and
	 * eg_engine_new fails; NULL: never. */
	const volatile int32_t *abort;
	/* Where the engine's log lines go (rule errors, guard.log); NULL: stderr.
	 * line is not NUL-terminated and only valid during the call. */
	void (*log)(void *ctx, const char *line, size_t len);
	void *log_ctx;
	/* -disable-rule ids and -disable-tag tags: those rules do not run (at
	 * every reload too). An id or tag no rule has fails the build. */
	const char *const *disable_rules;
	size_t ndisable_rules;
	const char *const *disable_tags;
	size_t ndisable_tags;
	/* "table" or "json" (-list-rules), "summary" (-validate): the engine
	 * renders that text, read with eg_engine_report(); NULL: none. */
	const char *report;
	/* Run every open through the rules, not only those the open filter
	 * keeps (src/prefilter.h): for tests and benchmarks that compare. */
	bool no_prefilter;
};

/* Builds an engine. On failure returns NULL and writes to err every problem
 * found, one per line (file, rule, field, value); whole lines only, see
 * EG_ERR_MAX. */
struct eg_engine *eg_engine_new(const struct eg_engine_opts *o, char *err, size_t errlen);
void eg_engine_free(struct eg_engine *e);

size_t eg_engine_nrules(const struct eg_engine *e);
/* The text opts.report asked for (ends with a newline for listings, not for
 * the summary); NULL when none was asked for. Owned by the engine. */
const char *eg_engine_report(const struct eg_engine *e);
const struct eg_rule_info *eg_engine_rule(const struct eg_engine *e, size_t idx);
/* Bit i set when some rule or detection asks for event type i. */
uint32_t eg_engine_types_wanted(const struct eg_engine *e);
/* The configuration's protect: entries (program names, paths, directories
 * ending in '/'; docs/response.md), *n of them; owned by the engine. */
const char *const *eg_engine_protect(const struct eg_engine *e, size_t *n);

/*
 * The kernel's filter of open events the rules derive
 * (lua/ebpf_guard/compile.lua, kernel_filter): an open whose filename the
 * kernel knows exactly may stay there unless its filename starts with one
 * of prefixes, its last 4 bytes are one of suffixes, or its comm's first 4
 * (zero bytes after its end) are one of comm. off: NULL when the filter can
 * be on, else why it cannot (a rule wanting opens names no such key).
 */
struct eg_kfilter_open {
	const char *off;
	const char *const *prefixes; /* each cut to EG_KF_PREFIX_MAX bytes, no NUL inside */
	const uint32_t *prefix_lens;
	size_t nprefixes;
	const uint32_t *suffixes; /* little-endian words */
	size_t nsuffixes;
	const uint32_t *comm;
	size_t ncomm;
	const uint32_t *ports; /* the socket families' (eg_engine_kfilter_sock) */
	size_t nports;
	const uint32_t *leaf;  /* the socket families': executables' file names' words */
	size_t nleaf;
	bool once;             /* the socket families': each process's first success */
	const char *const *addrs; /* connect's: destination addresses, as rules write them */
	const uint32_t *addr_lens;
	size_t naddrs;
	int32_t loop; /* connect's: -1, or the loopback classes (bpf/eg_raw.h EG_KF_LOOP_*) a
		       * connect may stay in the kernel with when some rule wants every other one */
	/* connect's: a detection's once_per the kernel keeps the repeats of
	 * (bpf kf_seen): keyed by the destination's address and/or port, within
	 * seen_ns (0: while the process runs) */
	bool seen, seen_ip, seen_port;
	uint64_t seen_ns;
	size_t nrules; /* open and the file families': the rules and detections wanting the type */
};
/* Owned by the engine. */
const struct eg_kfilter_open *eg_engine_kfilter_open(const struct eg_engine *e);

/*
 * The kills the kernel makes itself (lua/ebpf_guard/kkill.lua; bpf/kkill.h):
 * paths of the rules it enforces and of the protect: list, each under its
 * namespace (enum eg_kk_ns of bpf/eg_raw.h), a prefix or an exact path;
 * destination ports; protect: names (first 15 bytes). nrules: the rules
 * with action kill it enforces (0: none, nothing to switch on).
 */
#ifndef EG_KK_PATH_MAX
#define EG_KK_PATH_MAX 64 /* as bpf/eg_raw.h */
#endif
struct eg_kk_path {
	uint8_t ns;
	bool exact;
	uint32_t len; /* at most EG_KK_PATH_MAX, no NUL inside */
	char *s;
};
struct eg_kkill_set {
	struct eg_kk_path *paths;
	size_t npaths;
	uint16_t *ports;
	size_t nports;
	char (*names)[16]; /* NUL-padded */
	size_t nnames;
	uint32_t *codes; /* EG_KK_CODE(type, code) (bpf/eg_raw.h) */
	size_t ncodes;
	size_t nrules;
};
/* Owned by the engine. */
const struct eg_kkill_set *eg_engine_kkill(const struct eg_engine *e);

/*
 * The file families' filters (link, rename, unlink, chmod; bpf/fam_files.h):
 * first as eg_kfilter_open on the first path (filename) and the comm;
 * second the prefixes and suffixes of the second path (rename's new_path,
 * link's link_target), none when no rule keys on it (its off and comm
 * unused). An event whose tested paths are not absolute and in normal form
 * crosses.
 */
struct eg_kfilter_path {
	int type; /* enum eg_event_type */
	struct eg_kfilter_open first;
	struct eg_kfilter_open second;
	uint32_t mode_mask; /* chmod: a call setting one of these mode bits crosses */
};
#define EG_KF_PATH_TYPES 4
/* Their types, in the order of eg_engine_kfilter_path's index. */
extern const int eg_kf_path_types[EG_KF_PATH_TYPES];
/* The i-th of them (0 <= i < EG_KF_PATH_TYPES), owned by the engine. */
const struct eg_kfilter_path *eg_engine_kfilter_path(const struct eg_engine *e, int i);

/* The socket families (connect, listen, accept): the ports each type's
 * rules name (connect's dest_port, listen's and accept's local_port), the
 * programs (comm words; leaf: the executables' file names' words) and
 * whether a detection wants each process's first success (once), or why
 * its filter is off (off set: a rule with none of these keys, too many
 * ports); owned by the engine; i indexes eg_kf_sock_types. */
#define EG_KF_SOCK_TYPES 3
extern const int eg_kf_sock_types[EG_KF_SOCK_TYPES];
const struct eg_kfilter_open *eg_engine_kfilter_sock(const struct eg_engine *e, int i);

/* Open events no rule could match, kept from the rules by the engine's
 * prefilter (src/prefilter.h) since the engine was built. */
uint64_t eg_engine_prefiltered(const struct eg_engine *e);

/*
 * Runs the rules over events[0..n). For each hit calls cb in order (event
 * order, then rule order). Returns 0, or -1 when the engine itself failed
 * (a bug, not a rule error), with a message in err.
 */
typedef void (*eg_hit_cb)(void *ctx, const struct eg_event *ev, uint32_t rule,
			  const char *desc, size_t desc_len);
int eg_engine_run(struct eg_engine *e, struct eg_event *events, uint32_t n,
		  eg_hit_cb cb, void *ctx, char *err, size_t errlen);

/* Per-rule error counters, kind is enum eg_rule_err. */
uint64_t eg_engine_rule_errors(const struct eg_engine *e, size_t rule, int kind);
uint64_t eg_engine_total_errors(const struct eg_engine *e);
/* 1 when rule was taken out of service after too many errors in a row. */
int eg_engine_rule_disabled(const struct eg_engine *e, size_t rule);
/* How many times rule's user code (its condition, or its Lua detection's
 * match) was called on an event; 0 for a rule without user code. */
uint64_t eg_engine_rule_calls(const struct eg_engine *e, size_t rule);
/* Copies the last error of rule's user code, as logged ("runtime error:
 * <message>" or "budget error: <message>"), into buf (truncated to len - 1
 * bytes, NUL-terminated, control characters shown as spaces); "" when it
 * never failed. Returns the length copied. */
size_t eg_engine_rule_last_error(struct eg_engine *e, size_t rule, char *buf, size_t len);

/* Bytes of memory the Lua state uses. */
size_t eg_engine_lua_bytes(struct eg_engine *e);
/* A small incremental GC step; call between batches. */
void eg_engine_gc_step(struct eg_engine *e);

/* sizeof(struct eg_engine_opts) and offsetof(.., log): FFI users (the spec
 * helper) check their copy of the struct against these. */
void eg_engine_opts_layout(size_t *size, size_t *log_offset);

/* Offsets of struct eg_event, as the C compiler laid it out, for the check. */
void eg_event_layout(size_t *size, size_t *offsets, size_t nfields);

#endif
