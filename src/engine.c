/* SPDX-License-Identifier: MIT */
#include "engine.h"
#include "evtypes.h"
#include "textmatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>

#include "lua_modules.h"
#include "prefilter.h"
#include "sandbox_str.h"
#include "usercall.h"

/* Instructions per user call. The stock rules' conditions and the example
 * detections each need under 2,000 (spec fixtures, measured with the count
 * hook); 100,000 leaves room for real work and bounds a runaway call to well
 * under a millisecond of interpreter time. */
#define DEFAULT_BUDGET 100000u
/* A file's top level (and a YAML condition's first run) get this many times
 * the budget and LOAD_TIME_LIMIT_NS: it builds tables, compiles regexes. */
#define LOAD_FACTOR 10
#define DEFAULT_MAX_ERRORS 100   /* errors in a row before a rule is disabled */
#define DEFAULT_MEM_LIMIT_MB 64  /* MiB one user call may allocate */
#define HEAP_LIMIT_FACTOR 16     /* whole Lua heap cap, in per-call limits */
#define TIME_LIMIT_NS (50 * 1000000LL)         /* wall clock one user call may take */
#define LOAD_TIME_LIMIT_NS (1000 * 1000000LL)  /* ... a file's top level */
#define HOOK_EVERY 1000         /* count hook period, instructions */

struct eg_engine {
	lua_State *L;
	int run_ref;
	int desc_ref;
	int last_errors_ref; /* host.init's last_errors: rule index -> last error */
	int finish_ref;      /* host.init's finish(): reports dropped log lines */
	struct eg_batch batch;
	struct eg_hit *hits;
	uint32_t *order;     /* the hits' indexes in event, then rule order */
	uint32_t *order_tmp; /* order_hits's scratch */
	struct eg_rule_info *rules;
	size_t nrules;
	uint32_t types_wanted;
	struct eg_kfilter_open kf_open; /* its arrays and strings owned here */
	struct eg_kkill_set kk;         /* likewise */
	struct eg_kfilter_path kf_path[EG_KF_PATH_TYPES]; /* and these */
	struct eg_kfilter_open kf_sock[EG_KF_SOCK_TYPES];  /* off, or ports */
	struct eg_prefilter *pf; /* kf_open in C for the batches (NULL: none) */
	uint8_t *keep;		 /* the batch's verdicts (batch.keep), keep_cap of them */
	uint32_t keep_cap;
	uint64_t prefiltered;	 /* events pf kept from the rules, in all */
	char *report; /* opts.report's text, NULL when none */
	char **protect; /* host.init's protect: entries */
	size_t nprotect;
	void (*log)(void *ctx, const char *line, size_t len);
	void *log_ctx;
};

/* The batch whose budget the count hook enforces: set around every entry into
 * Lua, on the thread that runs the engine (thread-local: the metrics thread
 * never sees it, so the memory guard below never limits that thread). */
static __thread struct eg_batch *hook_batch;

/* Memory guard accounting (src/memguard.c): grow bytes of new anonymous
 * mappings on the calling thread. Returns 1 when they must be refused: user
 * code is running and its call would pass the batch's mem_limit. */
int eg_engine_user_map(size_t grow)
{
	struct eg_batch *b = hook_batch;
	if (!b || !b->in_user || !b->mem_limit)
		return 0;
	if (b->user_mapped + grow > b->mem_limit)
		return 1;
	b->user_mapped += grow;
	return 0;
}

#define EVENT_FIELDS(X)                                                                        \
	X(ts_ns) X(cgroup_id) X(type) X(flags) X(pid) X(tgid) X(ppid) X(uid) X(gid)           \
	X(open_flags) X(dest_port) X(argc) X(comm) X(filename) X(exe) X(dest_ip) X(args)      \
	X(comm_len) X(filename_len) X(exe_len) X(dest_ip_len) X(args_len)                      \
	X(requested) X(requested_len) X(ret) X(proto) X(proc) X(ctr) X(host) X(num) X(aux) X(aux_len)

/* The context structs events point at, checked like struct eg_event. */
#define PROC_FIELDS(X)                                                                         \
	X(start_ns) X(tgid) X(ppid) X(uid) X(gid) X(loginuid) X(flags) X(argc) X(parent_argc) \
	X(parent_tgid) X(nancestors) X(exec_id) X(comm) X(exe) X(args) X(cwd) X(tty)          \
	X(parent_exec_id) X(parent_comm) X(parent_exe) X(parent_args) X(exec_id_len)          \
	X(comm_len) X(exe_len) X(args_len) X(cwd_len) X(tty_len) X(parent_exec_id_len)       \
	X(parent_comm_len) X(parent_exe_len) X(parent_args_len) X(ancestors) X(start_boottime)

#define ANCESTOR_FIELDS(X) X(comm) X(exe) X(comm_len) X(exe_len)

#define CONTAINER_FIELDS(X)                                                                    \
	X(cgroup_id) X(cgroup) X(id) X(runtime) X(pod_uid) X(cgroup_len) X(id_len)            \
	X(runtime_len) X(pod_uid_len)

#define HOST_FIELDS(X) X(name) X(id) X(name_len) X(id_len)

#define BATCH_FIELDS(X)                                                                        \
	X(ev) X(n) X(next) X(hits) X(nhits) X(hits_cap) X(in_user) X(ticks) X(budget_ticks)   \
	X(nrules) X(rule_errors) X(nerrors) X(rule_disabled) X(rule_calls) X(mem_limit)       \
	X(user_mapped) X(heap_limit) X(call_start_ns) X(time_limit_ns) X(abort_flag)         \
	X(keep)

/* Events run() takes in one window when each may hit every rule of its
 * type: the pipeline's batch (EG_BATCH_EVENTS). */
#define EG_ENGINE_WINDOW 256

struct layout_field {
	const char *name;
	size_t off;
};

#define LAYOUT_FIELD(s, f) {#f, offsetof(struct s, f)},
#define PROC_FIELD(f) LAYOUT_FIELD(eg_proc, f)
#define ANCESTOR_FIELD(f) LAYOUT_FIELD(eg_ancestor, f)
#define CONTAINER_FIELD(f) LAYOUT_FIELD(eg_container, f)
#define HOST_FIELD(f) LAYOUT_FIELD(eg_host, f)
#define BATCH_FIELD(f) LAYOUT_FIELD(eg_batch, f)
static const struct layout_field proc_layout[] = {PROC_FIELDS(PROC_FIELD)};
static const struct layout_field ancestor_layout[] = {ANCESTOR_FIELDS(ANCESTOR_FIELD)};
static const struct layout_field container_layout[] = {CONTAINER_FIELDS(CONTAINER_FIELD)};
static const struct layout_field host_layout[] = {HOST_FIELDS(HOST_FIELD)};
static const struct layout_field batch_layout[] = {BATCH_FIELDS(BATCH_FIELD)};

/* Sets t[name] = { size = size, <field> = offset, ... } on the table at the
 * top of the stack (left there). */
static void set_struct_layout(lua_State *L, const char *name, size_t size,
			      const struct layout_field *f, size_t n)
{
	lua_newtable(L);
	lua_pushinteger(L, (lua_Integer)size);
	lua_setfield(L, -2, "size");
	for (size_t i = 0; i < n; i++) {
		lua_pushinteger(L, (lua_Integer)f[i].off);
		lua_setfield(L, -2, f[i].name);
	}
	lua_setfield(L, -2, name);
}

#define SET_STRUCT_LAYOUT(L, s, arr) \
	set_struct_layout(L, #s, sizeof(struct s), arr, sizeof(arr) / sizeof(arr[0]))

static const char *const field_names[] = {
#define NAME(f) #f,
	EVENT_FIELDS(NAME)
#undef NAME
};
#define NFIELDS (sizeof(field_names) / sizeof(field_names[0]))

/*
 * Pushes the field registry of the newer event types (src/evtypes.c) for
 * host.init to compare with its Lua copy: { fields = { { key, kind, slot,
 * names = { [bit] = name } } ... }, types = { [type] = { keys..., ret = bool } } }.
 */
static void push_registry(lua_State *L)
{
	static const char *const kinds[] = {NULL, "num", "flags", "str", "enum", "bool"};
	lua_newtable(L);
	lua_newtable(L);
	for (unsigned i = 0; i < eg_nfields; i++) {
		const struct eg_field *f = &eg_fields[i];
		lua_newtable(L);
		lua_pushstring(L, f->key);
		lua_setfield(L, -2, "key");
		lua_pushstring(L, kinds[f->kind]);
		lua_setfield(L, -2, "kind");
		lua_pushinteger(L, f->slot);
		lua_setfield(L, -2, "slot");
		lua_newtable(L);
		for (const struct eg_flag_name *fn = f->names; fn && fn->name; fn++) {
			lua_pushnumber(L, (lua_Number)fn->bit); /* capabilities reach bit 40 */
			lua_pushstring(L, fn->name);
			lua_rawset(L, -3);
		}
		lua_setfield(L, -2, "names");
		lua_rawseti(L, -2, (int)i + 1);
	}
	lua_setfield(L, -2, "fields");
	lua_newtable(L);
	for (uint32_t t = EG_EV_EXEC; t <= EG_EV_MAX; t++) {
		const struct eg_type_fields *tf = eg_type_fields(t);
		if (!tf)
			continue;
		lua_newtable(L);
		for (unsigned i = 0; i < tf->n; i++) {
			lua_pushstring(L, eg_fields[tf->idx[i]].key);
			lua_rawseti(L, -2, (int)i + 1);
		}
		lua_pushboolean(L, tf->ret);
		lua_setfield(L, -2, "ret");
		lua_rawseti(L, -2, (int)t);
	}
	lua_setfield(L, -2, "types");
}

void eg_engine_opts_layout(size_t *size, size_t *log_offset)
{
	*size = sizeof(struct eg_engine_opts);
	*log_offset = offsetof(struct eg_engine_opts, log);
}

void eg_event_layout(size_t *size, size_t *offsets, size_t nfields)
{
	size_t all[] = {
#define OFF(f) offsetof(struct eg_event, f),
		EVENT_FIELDS(OFF)
#undef OFF
	};
	*size = sizeof(struct eg_event);
	for (size_t i = 0; i < nfields && i < NFIELDS; i++)
		offsets[i] = all[i];
}

/* Count hook: only charges instructions while sandboxed user code runs (Lua
 * sets batch.in_user around each call; user functions run with the JIT off so
 * the hook fires inside them). Raises the budget error inside the user call. */
static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Count hook, every HOOK_EVERY instructions of interpreted code. Stops the
 * Lua code of a batch whose abort flag was raised; and while sandboxed user
 * code runs, enforces its instruction budget, the whole-heap cap and the
 * wall-clock limit of one call (for calls whose instructions are slow, such
 * as string functions on megabyte strings).
 */
static void count_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	struct eg_batch *b = hook_batch;
	if (!b)
		return;
	if (b->abort_flag && *b->abort_flag)
		luaL_error(L, "stopped: the rule set took too long to load");
	if (!b->in_user)
		return;
	if (++b->ticks > b->budget_ticks)
		luaL_error(L, "instruction budget exceeded");
	if (b->heap_limit && (uint64_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 > b->heap_limit)
		luaL_error(L, "Lua heap limit exceeded (%d MiB in all)", (int)(b->heap_limit >> 20));
	if (b->time_limit_ns) {
		int64_t now = now_ns();
		if (!b->call_start_ns)
			b->call_start_ns = now;
		else if (now - b->call_start_ns > b->time_limit_ns)
			luaL_error(L, "time limit exceeded (%d ms)", (int)(b->time_limit_ns / 1000000));
	}
}

/* Instructions charged by C functions that do work for user code (the
 * bounded pattern matcher) but below one hook period so far. */
static __thread uint32_t charge_rem;

void eg_engine_charge(lua_State *L, uint32_t steps)
{
	struct eg_batch *b = hook_batch;
	if (!b || !b->in_user)
		return;
	uint64_t all = (uint64_t)charge_rem + steps;
	uint64_t ticks = (uint64_t)b->ticks + all / HOOK_EVERY;
	charge_rem = (uint32_t)(all % HOOK_EVERY);
	b->ticks = ticks > INT32_MAX ? INT32_MAX : (int32_t)ticks;
	if (b->ticks > b->budget_ticks)
		luaL_error(L, "instruction budget exceeded");
}

/* package.loaders entry for the embedded ebpf_guard.* modules. Stack: name in,
 * loader function (or a message) out. */
static int embedded_loader(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	for (const struct eg_lua_module *m = eg_lua_modules; m->name; m++) {
		if (strcmp(m->name, name))
			continue;
		char chunk[160];
		snprintf(chunk, sizeof(chunk), "@%s", m->path);
		if (luaL_loadbuffer(L, m->src, m->len, chunk))
			return lua_error(L);
		return 1;
	}
	lua_pushfstring(L, "\n\tno embedded module '%s'", name);
	return 1;
}

/* log(line): the engine's log function when the caller set opts.log.
 * Upvalue 1 is the engine. */
static int log_line(lua_State *L)
{
	struct eg_engine *e = lua_touserdata(L, lua_upvalueindex(1));
	size_t len;
	const char *line = luaL_checklstring(L, 1, &len);
	e->log(e->log_ctx, line, len);
	return 0;
}

/* The message handler of user calls: a C closure over the Lua handler
 * (upvalue 1) that first ends the user call's charging, so no count-hook
 * check can fire between the error and the handler's first instruction
 * (which gave "error in error handling" for calls at their budget's end). */
static int user_errh(lua_State *L)
{
	struct eg_batch *b = hook_batch;
	if (b)
		b->in_user = 0;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* wrap_handler(f): f behind user_errh. */
static int wrap_handler(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	lua_settop(L, 1);
	lua_pushcclosure(L, user_errh, 1);
	return 1;
}

/* The bookkeeping around one run-time call of rule k's user code, for the
 * loop of user calls (src/usercall.c): the call counted, the budget, memory
 * and clock of the call reset, in_user set (and the reverse). */
void eg_engine_call_begin(struct eg_batch *b, uint32_t k)
{
	if (!b)
		return;
	if (b->rule_calls && k < b->nrules)
		b->rule_calls[k]++;
	b->ticks = 0;
	b->user_mapped = 0;
	b->call_start_ns = 0;
	charge_rem = 0;
	b->in_user = 1;
}

void eg_engine_call_end(struct eg_batch *b)
{
	if (!b)
		return;
	b->in_user = 0;
	b->ticks = 0;
	b->user_mapped = 0;
	b->call_start_ns = 0;
}

/* The count hook on around a loop of user calls only: the rule loops run
 * without it (LuaJIT aborts a trace recording whenever a hook is called,
 * and a long loop body recorded across a hook period would then abort at
 * random until blacklisted, left to the interpreter for good); each
 * lua_sethook rewrites LuaJIT's dispatch table, so once per loop, not per
 * call. */
void eg_engine_hook(lua_State *L, int on)
{
	if (on)
		lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
	else
		lua_sethook(L, NULL, 0, 0);
}

static int open_cengine(lua_State *L)
{
	lua_newtable(L);
	lua_pushcfunction(L, wrap_handler);
	lua_setfield(L, -2, "wrap_handler");
	/* C text tests for the compiled rules (compile.lua casts them to FFI
	 * function pointers) */
	lua_newtable(L);
	lua_pushlightuserdata(L, (void *)(uintptr_t)eg_text_shellish);
	lua_setfield(L, -2, "shellish");
	lua_pushlightuserdata(L, (void *)(uintptr_t)eg_text_miner_hint);
	lua_setfield(L, -2, "miner_hint");
	lua_pushlightuserdata(L, (void *)(uintptr_t)eg_text_find_any);
	lua_setfield(L, -2, "find_any");
	lua_pushinteger(L, (lua_Integer)sizeof(struct eg_lits));
	lua_setfield(L, -2, "lits_size");
	lua_setfield(L, -2, "text");
	eg_usercall_register(L);
	return 1;
}

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
	return 1;
}

static void install_loader(lua_State *L, const char *lua_path)
{
	lua_getglobal(L, "package");
	if (lua_path) {
		/* Development: the engine sources on disk come first. */
		lua_getfield(L, -1, "path");
		lua_pushfstring(L, "%s/?.lua;%s", lua_path, lua_tostring(L, -1));
		lua_setfield(L, -3, "path");
		lua_pop(L, 1);
	} else {
		lua_getfield(L, -1, "loaders");
		int n = (int)lua_objlen(L, -1);
		for (int i = n; i >= 2; i--) {
			lua_rawgeti(L, -1, i);
			lua_rawseti(L, -2, i + 1);
		}
		lua_pushcfunction(L, embedded_loader);
		lua_rawseti(L, -2, 2);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static char *dup_field(lua_State *L, int idx, const char *key, const char *def)
{
	lua_getfield(L, idx, key);
	const char *s = lua_tostring(L, -1);
	char *r = strdup(s ? s : def);
	lua_pop(L, 1);
	return r;
}

/*
 * Copies msg (lines separated by '\n') into err[0..errlen): whole lines only,
 * as many as fit with room left for a last line "... and N more problems"
 * that counts the lines left out. Only a first line longer than errlen is
 * cut mid-way.
 */
static void copy_problems(char *err, size_t errlen, const char *msg)
{
	static const char more_fmt[] = "\n... and %zu more problem%s";
	size_t room = errlen > 64 ? errlen - 64 : errlen; /* for the last line */
	size_t len = strlen(msg), used = 0;
	if (len < errlen) {
		memcpy(err, msg, len + 1);
		return;
	}
	const char *p = msg;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		if (used + (used ? 1 : 0) + l >= room)
			break;
		if (used)
			err[used++] = '\n';
		memcpy(err + used, p, l);
		used += l;
		p += l + (nl ? 1 : 0);
	}
	if (!used) { /* one line longer than the whole buffer */
		snprintf(err, errlen, "%s", msg);
		return;
	}
	err[used] = '\0';
	size_t more = 0;
	for (const char *q = p; *q; q++)
		if (*q == '\n' && q[1])
			more++;
	if (*p)
		more++;
	if (more)
		snprintf(err + used, errlen - used, more_fmt, more, more == 1 ? "" : "s");
}

/* Pushes a list of n strings as a Lua sequence. */
static void push_strings(lua_State *L, const char *const *s, size_t n)
{
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, s[i]);
		lua_rawseti(L, -2, (int)i + 1);
	}
}

/* Reads the array of integers at t[key] (a table at idx) into a new array
 * of its length (*n). Returns 0, or -1 when out of memory. */
static int read_words(lua_State *L, int idx, const char *key, const uint32_t **out, size_t *n)
{
	lua_getfield(L, idx, key);
	size_t len = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
	uint32_t *w = calloc(len ? len : 1, sizeof(*w));
	if (!w) {
		lua_pop(L, 1);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		lua_rawgeti(L, -1, (int)i + 1);
		w[i] = (uint32_t)(uint64_t)lua_tonumber(L, -1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	*out = w;
	*n = len;
	return 0;
}

/* Reads the strings at t[key] (a table at idx) into *out (NUL-terminated
 * copies) and their lengths into *lens_out. Returns 0, or -1 when out of
 * memory (*n says how many were read). */
static int read_strings(lua_State *L, int idx, const char *key, const char *const **out, const uint32_t **lens_out,
			size_t *nout)
{
	lua_getfield(L, idx, key);
	size_t n = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
	char **p = calloc(n ? n : 1, sizeof(*p));
	uint32_t *lens = calloc(n ? n : 1, sizeof(*lens));
	*out = (const char *const *)p;
	*lens_out = lens;
	*nout = 0;
	if (!p || !lens) {
		lua_pop(L, 1);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = 0;
		lua_rawgeti(L, -1, (int)i + 1);
		const char *s = lua_tolstring(L, -1, &l);
		p[i] = s ? malloc(l + 1) : NULL;
		if (p[i]) {
			memcpy(p[i], s, l);
			p[i][l] = 0;
			lens[i] = (uint32_t)l;
		}
		lua_pop(L, 1);
		if (!p[i]) {
			lua_pop(L, 1);
			*nout = i;
			return -1;
		}
	}
	*nout = n;
	lua_pop(L, 1);
	return 0;
}

/* Reads the prefix strings at t[key] (a table at idx) into k's prefixes.
 * Returns 0, or -1 when out of memory. */
static int read_prefixes(lua_State *L, int idx, const char *key, struct eg_kfilter_open *k)
{
	return read_strings(L, idx, key, &k->prefixes, &k->prefix_lens, &k->nprefixes);
}

/* Reads host.init's kfilter[name] (kfilter: the table at idx) into k, its
 * second path's sets into k2 and its mode_mask into *mode when given; a
 * missing one reads as off. Returns 0, or -1 when out of memory. */
static int read_kfilter(lua_State *L, int idx, const char *name, struct eg_kfilter_open *k,
			struct eg_kfilter_open *k2, uint32_t *mode)
{
	int rc = 0, top = lua_gettop(L);
	k->loop = -1;
	lua_getfield(L, idx, "kfilter");
	if (lua_istable(L, -1))
		lua_getfield(L, -1, name);
	else
		lua_pushnil(L);
	int t = lua_gettop(L);
	if (!lua_istable(L, t)) {
		k->off = strdup("the engine derived no kernel filter");
		rc = k->off ? 0 : -1;
		goto out;
	}
	lua_getfield(L, t, "off");
	if (lua_isstring(L, -1)) {
		k->off = strdup(lua_tostring(L, -1));
		lua_pop(L, 1);
		rc = k->off ? 0 : -1;
		goto out;
	}
	lua_pop(L, 1);
	if (read_words(L, t, "filename_suffixes", &k->suffixes, &k->nsuffixes) ||
	    read_words(L, t, "comm", &k->comm, &k->ncomm) || read_words(L, t, "ports", &k->ports, &k->nports) ||
	    read_words(L, t, "leaf", &k->leaf, &k->nleaf) ||
	    read_prefixes(L, t, "filename_prefixes", k)) {
		rc = -1;
		goto out;
	}
	if (k2 && (read_words(L, t, "path2_suffixes", &k2->suffixes, &k2->nsuffixes) ||
		   read_prefixes(L, t, "path2_prefixes", k2)))
		rc = -1;
	if (!rc && read_strings(L, t, "addrs", &k->addrs, &k->addr_lens, &k->naddrs))
		rc = -1;
	lua_getfield(L, t, "once");
	k->once = lua_toboolean(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, t, "rules");
	k->nrules = lua_isnumber(L, -1) ? (size_t)lua_tointeger(L, -1) : 0;
	lua_pop(L, 1);
	lua_getfield(L, t, "loop");
	k->loop = lua_isnumber(L, -1) ? (int32_t)lua_tointeger(L, -1) : -1;
	lua_pop(L, 1);
	lua_getfield(L, t, "seen");
	if (lua_istable(L, -1)) {
		k->seen = true;
		lua_getfield(L, -1, "ns");
		lua_Number ns = lua_tonumber(L, -1);
		k->seen_ns = ns > 0 ? (uint64_t)ns : 0;
		lua_getfield(L, -2, "ip");
		k->seen_ip = lua_toboolean(L, -1);
		lua_getfield(L, -3, "port");
		k->seen_port = lua_toboolean(L, -1);
		lua_pop(L, 3);
	}
	lua_pop(L, 1);
	if (mode) {
		lua_getfield(L, t, "mode_mask");
		*mode = (uint32_t)lua_tointeger(L, -1);
		lua_pop(L, 1);
	}
out:
	lua_settop(L, top);
	return rc;
}

static void free_kfilter(struct eg_kfilter_open *k)
{
	for (size_t i = 0; k->prefixes && i < k->nprefixes; i++)
		free((void *)k->prefixes[i]);
	free((void *)k->prefixes);
	free((void *)k->prefix_lens);
	for (size_t i = 0; k->addrs && i < k->naddrs; i++)
		free((void *)k->addrs[i]);
	free((void *)k->addrs);
	free((void *)k->addr_lens);
	free((void *)k->suffixes);
	free((void *)k->comm);
	free((void *)k->ports);
	free((void *)k->leaf);
	free((void *)k->off);
	memset(k, 0, sizeof(*k));
}

/* Appends the { ns, s, exact } entries of the list at the stack top to
 * k->paths (sized by the caller). Returns 0, or -1 when out of memory. */
static int read_kk_paths(lua_State *L, struct eg_kkill_set *k)
{
	size_t n = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = 0;
		lua_rawgeti(L, -1, (int)i + 1);
		lua_getfield(L, -1, "s");
		const char *s = lua_tolstring(L, -1, &l);
		lua_getfield(L, -2, "ns");
		lua_getfield(L, -3, "exact");
		struct eg_kk_path *p = &k->paths[k->npaths];
		p->ns = (uint8_t)lua_tointeger(L, -2);
		p->exact = lua_toboolean(L, -1);
		if (l > EG_KK_PATH_MAX)
			l = EG_KK_PATH_MAX;
		p->s = malloc(l + 1);
		if (p->s) {
			memcpy(p->s, s ? s : "", s ? l : 0);
			p->s[s ? l : 0] = 0;
			p->len = s ? (uint32_t)l : 0;
			k->npaths++;
		}
		lua_pop(L, 4);
		if (!p->s)
			return -1;
	}
	return 0;
}

/* Reads host.init's kkill and kprotect (result table at idx) into e->kk.
 * Returns 0, or -1 when out of memory. */
static int read_kkill(struct eg_engine *e, int idx)
{
	lua_State *L = e->L;
	struct eg_kkill_set *k = &e->kk;
	int rc = -1;
	lua_getfield(L, idx, "kkill");
	lua_getfield(L, idx, "kprotect");
	int kk = idx + 1, kp = idx + 2;
	if (!lua_istable(L, kk) || !lua_istable(L, kp)) {
		rc = 0;
		goto out;
	}
	lua_getfield(L, kk, "rules");
	k->nrules = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
	lua_getfield(L, kk, "paths");
	lua_getfield(L, kp, "paths");
	size_t np = lua_objlen(L, -2) + lua_objlen(L, -1);
	if (!(k->paths = calloc(np ? np : 1, sizeof(*k->paths))))
		goto out;
	if (read_kk_paths(L, k))
		goto out;
	lua_pop(L, 1);
	if (read_kk_paths(L, k))
		goto out;
	lua_pop(L, 2);
	lua_getfield(L, kk, "ports");
	size_t nq = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
	if (!(k->ports = calloc(nq ? nq : 1, sizeof(*k->ports))))
		goto out;
	for (size_t i = 0; i < nq; i++) {
		lua_rawgeti(L, -1, (int)i + 1);
		k->ports[k->nports++] = (uint16_t)lua_tointeger(L, -1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lua_getfield(L, kk, "codes");
	size_t nc = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
	if (!(k->codes = calloc(nc ? nc : 1, sizeof(*k->codes))))
		goto out;
	for (size_t i = 0; i < nc; i++) {
		lua_rawgeti(L, -1, (int)i + 1);
		k->codes[k->ncodes++] = (uint32_t)lua_tonumber(L, -1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lua_getfield(L, kp, "names");
	size_t nn = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
	if (!(k->names = calloc(nn ? nn : 1, sizeof(*k->names))))
		goto out;
	for (size_t i = 0; i < nn; i++) {
		size_t l = 0;
		lua_rawgeti(L, -1, (int)i + 1);
		const char *s = lua_tolstring(L, -1, &l);
		memcpy(k->names[k->nnames++], s ? s : "", s ? (l < 15 ? l : 15) : 0);
		lua_pop(L, 1);
	}
	rc = 0;
out:
	lua_settop(L, idx);
	return rc;
}

static void free_kkill(struct eg_kkill_set *k)
{
	for (size_t i = 0; k->paths && i < k->npaths; i++)
		free(k->paths[i].s);
	free(k->paths);
	free(k->ports);
	free(k->names);
	free(k->codes);
	memset(k, 0, sizeof(*k));
}

/* Reads host.init's result table (at stack top) into e. */
static int read_rules(struct eg_engine *e, char *err, size_t errlen)
{
	lua_State *L = e->L;
	int t = lua_gettop(L);
	lua_getfield(L, t, "rules");
	e->nrules = lua_objlen(L, -1);
	if (e->nrules > UINT16_MAX) {
		snprintf(err, errlen, "too many rules (%zu, at most %u)", e->nrules, UINT16_MAX);
		return -1;
	}
	e->rules = calloc(e->nrules ? e->nrules : 1, sizeof(*e->rules));
	if (!e->rules)
		goto oom;
	for (size_t i = 0; i < e->nrules; i++) {
		lua_rawgeti(L, -1, (int)i + 1);
		struct eg_rule_info *r = &e->rules[i];
		r->id = dup_field(L, -1, "id", "");
		r->description = dup_field(L, -1, "description", "");
		r->severity = dup_field(L, -1, "severity", "warning");
		r->tags_json = dup_field(L, -1, "tags_json", "[]");
		r->source = dup_field(L, -1, "source", "");
		r->kind = dup_field(L, -1, "kind", "builtin");
		lua_getfield(L, -1, "action");
		const char *act = lua_tostring(L, -1);
		r->action = act && !strcmp(act, "kill") ? EG_ACTION_KILL : EG_ACTION_ALERT;
		lua_pop(L, 2);
		if (!r->id || !r->description || !r->severity || !r->tags_json || !r->source ||
		    !r->kind)
			goto oom;
	}
	lua_pop(L, 1);
	lua_getfield(L, t, "report");
	if (lua_isstring(L, -1) && !(e->report = strdup(lua_tostring(L, -1))))
		goto oom;
	lua_pop(L, 1);
	lua_getfield(L, t, "protect");
	size_t np = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
	if (np && !(e->protect = calloc(np, sizeof(*e->protect))))
		goto oom;
	for (size_t i = 0; i < np; i++) {
		lua_rawgeti(L, -1, (int)i + 1);
		const char *s = lua_tostring(L, -1);
		e->protect[i] = strdup(s ? s : "");
		lua_pop(L, 1);
		if (!e->protect[e->nprotect++])
			goto oom;
	}
	lua_pop(L, 1);
	lua_getfield(L, t, "types_wanted");
	e->types_wanted = (uint32_t)lua_tointeger(L, -1);
	lua_pop(L, 1);
	if (read_kfilter(L, t, "open", &e->kf_open, NULL, NULL) || read_kkill(e, t))
		goto oom;
	for (int i = 0; i < EG_KF_PATH_TYPES; i++) {
		struct eg_kfilter_path *kp = &e->kf_path[i];
		kp->type = eg_kf_path_types[i];
		if (read_kfilter(L, t, eg_event_type_name(kp->type), &kp->first, &kp->second, &kp->mode_mask))
			goto oom;
	}
	for (int i = 0; i < EG_KF_SOCK_TYPES; i++)
		if (read_kfilter(L, t, eg_event_type_name((uint32_t)eg_kf_sock_types[i]), &e->kf_sock[i], NULL, NULL))
			goto oom;
	lua_getfield(L, t, "run");
	if (!lua_isfunction(L, -1)) {
		snprintf(err, errlen, "engine: host.init returned no run function");
		return -1;
	}
	e->run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_getfield(L, t, "desc");
	if (!lua_istable(L, -1)) {
		snprintf(err, errlen, "engine: host.init returned no desc table");
		return -1;
	}
	e->desc_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_getfield(L, t, "last_errors");
	if (lua_istable(L, -1))
		e->last_errors_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	else
		lua_pop(L, 1);
	lua_getfield(L, t, "finish");
	if (lua_isfunction(L, -1))
		e->finish_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	else
		lua_pop(L, 1);
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

struct eg_engine *eg_engine_new(const struct eg_engine_opts *o, char *err, size_t errlen)
{
	struct eg_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->run_ref = e->desc_ref = e->last_errors_ref = e->finish_ref = LUA_NOREF;
	e->L = luaL_newstate();
	if (!e->L) {
		snprintf(err, errlen, "cannot create a Lua state");
		free(e);
		return NULL;
	}
	lua_State *L = e->L;
	luaL_openlibs(L);
	install_loader(L, o->lua_path);
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "preload");
	lua_pushcfunction(L, eg_open_sandbox_str);
	lua_setfield(L, -2, "ebpf_guard.cstr");
	lua_pushcfunction(L, open_cengine);
	lua_setfield(L, -2, "ebpf_guard.cengine");
	lua_pop(L, 2);
	uint32_t budget = o->budget ? o->budget : DEFAULT_BUDGET;
	int32_t budget_ticks = (int32_t)((budget + HOOK_EVERY - 1) / HOOK_EVERY);
	e->batch.budget_ticks = budget_ticks * LOAD_FACTOR;
	lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
	uint64_t mem_mb = o->mem_limit_mb ? o->mem_limit_mb : DEFAULT_MEM_LIMIT_MB;
	e->batch.mem_limit = mem_mb << 20;
	e->batch.heap_limit = (mem_mb * HEAP_LIMIT_FACTOR) << 20;
	e->batch.time_limit_ns = LOAD_TIME_LIMIT_NS;
	e->batch.abort_flag = o->abort;

	lua_pushcfunction(L, traceback);
	int tb = lua_gettop(L);
	lua_getglobal(L, "require");
	lua_pushstring(L, "ebpf_guard.host");
	if (lua_pcall(L, 1, 1, tb)) {
		snprintf(err, errlen, "engine: %s", lua_tostring(L, -1));
		goto fail;
	}
	lua_getfield(L, -1, "init");
	lua_newtable(L);
	lua_pushlightuserdata(L, &e->batch);
	lua_setfield(L, -2, "batch");
	lua_newtable(L);
	for (size_t i = 0; i < o->nconfigs; i++) {
		lua_pushstring(L, o->configs[i]);
		lua_rawseti(L, -2, (int)i + 1);
	}
	lua_setfield(L, -2, "configs");
	size_t size, offs[NFIELDS];
	eg_event_layout(&size, offs, NFIELDS);
	lua_newtable(L);
	lua_pushinteger(L, (lua_Integer)size);
	lua_setfield(L, -2, "size");
	for (size_t i = 0; i < NFIELDS; i++) {
		lua_pushinteger(L, (lua_Integer)offs[i]);
		lua_setfield(L, -2, field_names[i]);
	}
	SET_STRUCT_LAYOUT(L, eg_proc, proc_layout);
	SET_STRUCT_LAYOUT(L, eg_ancestor, ancestor_layout);
	SET_STRUCT_LAYOUT(L, eg_container, container_layout);
	SET_STRUCT_LAYOUT(L, eg_host, host_layout);
	SET_STRUCT_LAYOUT(L, eg_batch, batch_layout);
	lua_setfield(L, -2, "layout");
	push_registry(L);
	lua_setfield(L, -2, "registry");
	push_strings(L, o->disable_rules, o->ndisable_rules);
	lua_setfield(L, -2, "disable_rules");
	push_strings(L, o->disable_tags, o->ndisable_tags);
	lua_setfield(L, -2, "disable_tags");
	if (o->report) {
		lua_pushstring(L, o->report);
		lua_setfield(L, -2, "list");
	}
	lua_pushinteger(L, o->max_errors ? o->max_errors : DEFAULT_MAX_ERRORS);
	lua_setfield(L, -2, "max_errors");
	if (o->log) {
		e->log = o->log;
		e->log_ctx = o->log_ctx;
		lua_pushlightuserdata(L, e);
		lua_pushcclosure(L, log_line, 1);
		lua_setfield(L, -2, "log");
	}

	hook_batch = &e->batch;
	int rc = lua_pcall(L, 1, 2, tb);
	hook_batch = NULL;
	if (rc) {
		snprintf(err, errlen, "engine: %s", lua_tostring(L, -1));
		goto fail;
	}
	if (lua_isnil(L, -2)) {
		copy_problems(err, errlen, lua_tostring(L, -1) ? lua_tostring(L, -1) : "unknown error");
		goto fail;
	}
	lua_pop(L, 1);
	if (read_rules(e, err, errlen))
		goto fail;
	/* the most hits one event can make (its type's rules) */
	lua_getfield(L, -1, "most_hits");
	size_t most = lua_isnumber(L, -1) ? (size_t)lua_tointeger(L, -1) : e->nrules;
	lua_settop(L, 0);

	/* room for a full event's hits (nrules) past the run loop's limit, and
	 * for a whole batch's worst case, so that run() takes a batch in one
	 * window (each window pays for entering and leaving every rule loop) */
	size_t cap = e->nrules + EG_BATCH_HITS_DEFAULT;
	if (cap < most * EG_ENGINE_WINDOW + e->nrules)
		cap = most * EG_ENGINE_WINDOW + e->nrules;
	e->hits = calloc(cap, sizeof(*e->hits));
	e->order = calloc(cap, sizeof(*e->order));
	e->order_tmp = calloc(cap, sizeof(*e->order_tmp));
	e->batch.rule_errors = calloc(e->nrules * EG_RERR_KINDS + 1, sizeof(uint64_t));
	e->batch.rule_disabled = calloc(e->nrules + 1, 1);
	e->batch.rule_calls = calloc(e->nrules + 1, sizeof(uint64_t));
	if (!e->hits || !e->order || !e->order_tmp || !e->batch.rule_errors || !e->batch.rule_disabled || !e->batch.rule_calls) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	e->batch.hits = e->hits;
	e->batch.hits_cap = (uint32_t)cap;
	e->batch.nrules = (uint32_t)e->nrules;
	e->batch.abort_flag = NULL; /* built: the flag is for the build only */
	e->batch.budget_ticks = budget_ticks; /* from now on: per-event calls */
	lua_sethook(L, NULL, 0, 0);         /* on around user calls only (eg_engine_hook) */
	e->batch.time_limit_ns = TIME_LIMIT_NS;
	if (!o->no_prefilter)
		e->pf = eg_prefilter_new(&e->kf_open); /* NULL: every open goes to the rules */
	lua_gc(L, LUA_GCCOLLECT, 0);
	return e;
fail:
	eg_engine_free(e);
	return NULL;
}

void eg_engine_free(struct eg_engine *e)
{
	if (!e)
		return;
	if (e->L && e->finish_ref != LUA_NOREF) {
		/* last words: what guard.log dropped since its last line */
		lua_rawgeti(e->L, LUA_REGISTRYINDEX, e->finish_ref);
		if (lua_pcall(e->L, 0, 0, 0))
			lua_pop(e->L, 1);
	}
	if (e->L)
		lua_close(e->L);
	for (size_t i = 0; e->rules && i < e->nrules; i++) {
		free((void *)e->rules[i].id);
		free((void *)e->rules[i].description);
		free((void *)e->rules[i].severity);
		free((void *)e->rules[i].tags_json);
		free((void *)e->rules[i].source);
		free((void *)e->rules[i].kind);
	}
	free(e->rules);
	for (size_t i = 0; i < e->nprotect; i++)
		free(e->protect[i]);
	free(e->protect);
	free_kfilter(&e->kf_open);
	eg_prefilter_free(e->pf);
	free(e->keep);
	free_kkill(&e->kk);
	for (int i = 0; i < EG_KF_PATH_TYPES; i++) {
		free_kfilter(&e->kf_path[i].first);
		free_kfilter(&e->kf_path[i].second);
	}
	for (int i = 0; i < EG_KF_SOCK_TYPES; i++)
		free_kfilter(&e->kf_sock[i]);
	free(e->report);
	free(e->hits);
	free(e->order);
	free(e->order_tmp);
	free(e->batch.rule_errors);
	free(e->batch.rule_disabled);
	free(e->batch.rule_calls);
	free(e);
}

size_t eg_engine_nrules(const struct eg_engine *e)
{
	return e->nrules;
}

const char *eg_engine_report(const struct eg_engine *e)
{
	return e->report;
}

const struct eg_rule_info *eg_engine_rule(const struct eg_engine *e, size_t idx)
{
	return idx < e->nrules ? &e->rules[idx] : NULL;
}

const struct eg_kfilter_open *eg_engine_kfilter_open(const struct eg_engine *e)
{
	return &e->kf_open;
}

const struct eg_kkill_set *eg_engine_kkill(const struct eg_engine *e)
{
	return &e->kk;
}

const int eg_kf_path_types[EG_KF_PATH_TYPES] = {EG_EV_LINK, EG_EV_RENAME, EG_EV_UNLINK, EG_EV_CHMOD};

const struct eg_kfilter_path *eg_engine_kfilter_path(const struct eg_engine *e, int i)
{
	return i >= 0 && i < EG_KF_PATH_TYPES ? &e->kf_path[i] : NULL;
}

const int eg_kf_sock_types[EG_KF_SOCK_TYPES] = {EG_EV_CONNECT, EG_EV_LISTEN, EG_EV_ACCEPT};

const struct eg_kfilter_open *eg_engine_kfilter_sock(const struct eg_engine *e, int i)
{
	return i >= 0 && i < EG_KF_SOCK_TYPES ? &e->kf_sock[i] : NULL;
}

uint32_t eg_engine_types_wanted(const struct eg_engine *e)
{
	return e->types_wanted;
}

const char *const *eg_engine_protect(const struct eg_engine *e, size_t *n)
{
	*n = e->nprotect;
	return (const char *const *)e->protect;
}

/* 1 when hit a comes after hit b: by event, then rule. */
static inline int hit_after(const struct eg_hit *a, const struct eg_hit *b)
{
	return a->ev != b->ev ? a->ev > b->ev : a->rule > b->rule;
}

/* The rule loop writes hits group by group (lua/ebpf_guard/compile.lua):
 * puts their indexes in e->order sorted by event, then rule. A bottom-up
 * merge sort through e->order_tmp: the runs it merges are long, and glibc's
 * qsort asks the kernel for the memory size (sysinfo), which the seccomp
 * filter refuses. */
static void order_hits(struct eg_engine *e, uint32_t n)
{
	uint32_t *a = e->order, *t = e->order_tmp;
	int sorted = 1;
	for (uint32_t i = 0; i < n; i++) {
		a[i] = i;
		if (i && hit_after(&e->hits[i - 1], &e->hits[i]))
			sorted = 0;
	}
	if (sorted)
		return;
	a = eg_hits_sort(e->hits, a, t, n);
	if (a != e->order)
		memcpy(e->order, a, n * sizeof(*a));
}

int eg_engine_run(struct eg_engine *e, struct eg_event *events, uint32_t n, eg_hit_cb cb,
		  void *ctx, char *err, size_t errlen)
{
	lua_State *L = e->L;
	struct eg_batch *b = &e->batch;
	b->ev = events;
	b->n = n;
	b->next = 0;
	b->keep = NULL;
	if (e->pf && n > e->keep_cap) {
		uint8_t *k = realloc(e->keep, n);
		if (k) {
			e->keep = k;
			e->keep_cap = n;
		}
	}
	if (e->pf && n <= e->keep_cap) { /* else (out of memory) every event goes to the rules */
		e->prefiltered += eg_prefilter_batch(e->pf, events, n, e->keep);
		b->keep = e->keep;
	}
	while (b->next < n) {
		uint32_t before = b->next;
		b->nhits = 0;
		lua_rawgeti(L, LUA_REGISTRYINDEX, e->run_ref);
		hook_batch = b;
		int rc = lua_pcall(L, 0, 0, 0);
		hook_batch = NULL;
		b->in_user = 0;
		if (rc)
			lua_sethook(L, NULL, 0, 0); /* an error out of a loop of user calls */
		if (rc) {
			snprintf(err, errlen, "engine: %s", lua_tostring(L, -1));
			lua_pop(L, 1);
			return -1;
		}
		if (b->next <= before && b->nhits == 0) {
			snprintf(err, errlen, "engine: run() made no progress");
			return -1;
		}
		int have_desc = 0;
		order_hits(e, b->nhits);
		for (uint32_t k = 0; k < b->nhits; k++) {
			uint32_t i = e->order[k];
			const struct eg_hit *h = &e->hits[i];
			const char *d = NULL;
			size_t dl = 0;
			if (h->flags & EG_HITF_DYNDESC) {
				if (!have_desc) {
					lua_rawgeti(L, LUA_REGISTRYINDEX, e->desc_ref);
					have_desc = 1;
				}
				lua_rawgeti(L, -1, (int)i);
				d = lua_tolstring(L, -1, &dl);
				lua_pop(L, 1);
			}
			/* d stays valid: the desc table keeps the string until the next run. */
			cb(ctx, &events[h->ev], h->rule, d, dl);
		}
		if (have_desc)
			lua_pop(L, 1);
	}
	return 0;
}

uint64_t eg_engine_prefiltered(const struct eg_engine *e)
{
	return e->prefiltered;
}

uint64_t eg_engine_rule_errors(const struct eg_engine *e, size_t rule, int kind)
{
	if (rule >= e->nrules || kind < 0 || kind >= EG_RERR_KINDS)
		return 0;
	return e->batch.rule_errors[rule * EG_RERR_KINDS + (size_t)kind];
}

int eg_engine_rule_disabled(const struct eg_engine *e, size_t rule)
{
	return rule < e->nrules && e->batch.rule_disabled[rule];
}

uint64_t eg_engine_rule_calls(const struct eg_engine *e, size_t rule)
{
	return rule < e->nrules ? e->batch.rule_calls[rule] : 0;
}

/* Stack: unchanged. The string is host.init's last_errors[rule], copied
 * with control characters (a user's error("a\nb")) shown as spaces. */
size_t eg_engine_rule_last_error(struct eg_engine *e, size_t rule, char *buf, size_t len)
{
	if (!len)
		return 0;
	buf[0] = 0;
	if (rule >= e->nrules || e->last_errors_ref == LUA_NOREF)
		return 0;
	lua_State *L = e->L;
	lua_rawgeti(L, LUA_REGISTRYINDEX, e->last_errors_ref);
	lua_rawgeti(L, -1, (int)rule);
	size_t n = 0;
	const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
	if (s) {
		if (n >= len)
			n = len - 1;
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
		buf[n] = 0;
	}
	lua_pop(L, 2);
	return n;
}

uint64_t eg_engine_total_errors(const struct eg_engine *e)
{
	return e->batch.nerrors;
}

size_t eg_engine_lua_bytes(struct eg_engine *e)
{
	return (size_t)lua_gc(e->L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(e->L, LUA_GCCOUNTB, 0);
}

void eg_engine_gc_step(struct eg_engine *e)
{
	lua_gc(e->L, LUA_GCSTEP, 0);
}
