/* SPDX-License-Identifier: MIT */
/*
 * The run-time user calls in C. The compiled rule loops gather the hits
 * whose user code is still to run (pending hits, lua/ebpf_guard/compile.lua);
 * user_loop() then makes those calls, one per pending hit, in event order,
 * and compacts the hits that stand. Done in Lua, each call paid for a dozen
 * FFI accesses in the interpreter (the loop of user calls cannot be
 * compiled: user code runs with the JIT off, under the count hook), about
 * 0.8 us per call before the user's first instruction. The `ev` a call sees
 * is a userdata whose __index is view_index(): the event's fields are read
 * from the struct and pushed, in one C call per access (the tables args,
 * parent and ancestors built once per call); the newer types' fields and
 * protocol go to the Lua view (lua/ebpf_guard/view.lua), which stays their
 * one definition. The C fields must read as the Lua view's do: the specs
 * run both (spec/unit/usercall_spec.lua, view_spec.lua).
 *
 * What stays in Lua, called from here: a detection's stored (the stores are
 * Lua), a process exit's forgetting, and every error path (messages, error
 * counts, taking a rule out of service).
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "usercall.h"

/* the rule index of a pending exit and the flags of a pending hit
 * (compile.lua's EXIT_RULE and PENDING) */
#define EXIT_RULE 65535
#define PENDING 2

enum { KIND_NONE = 0, KIND_CONDITION = 1, KIND_DETECTION = 2 };

struct ucall {
	struct eg_batch *b;
	const struct eg_event *cur; /* the event of the call in progress; NULL between calls */
	uint32_t cur_i;             /* its index in the batch */
	uint32_t seq;               /* user calls so far: the Lua view's cache generation */
	uint32_t tables_seq;        /* the call whose tables (args, parent, ancestors) the cache holds */
	uint32_t nrules;
	uint8_t *kind;    /* [nrules] KIND_* */
	uint32_t *stored; /* [nrules] bit t: a detection's stored gates its calls of type t */
	uint32_t *inrow;  /* [nrules] errors in a row */
	uint32_t *scratch; /* 2 * scap: the pending hits' indexes, sorted */
	uint32_t scap;
};

/* The fields view_index() reads itself, in the order of their codes (1..);
 * the Lua view's other fields have code 0 (view_fields() tells Lua). */
#define VIEW_FIELDS(X)                                                                         \
	X(ts_ns) X(timestamp) X(pid) X(tgid) X(ppid) X(uid) X(gid) X(type) X(comm) X(name)      \
	X(filename) X(exe) X(dest_ip) X(dest_port) X(cgroup_id) X(open_flags) X(memfd)         \
	X(truncated) X(requested) X(ret) X(requested_differs) X(io_uring) X(compat)            \
	X(interpreted) X(datagram) X(exec_id) X(cwd) X(tty) X(loginuid) X(context) X(setuid)   \
	X(setgid) X(ld_preload) X(ld_library_path) X(container_id) X(container_runtime)        \
	X(pod_uid) X(cgroup) X(hostname) X(host_id) X(args) X(parent) X(ancestors)

enum {
	VF_FALLBACK = 0,
#define X(f) VF_##f,
	VIEW_FIELDS(X)
#undef X
	VF_COUNT
};

static const char *const view_field_names[] = {
#define X(f) #f,
	VIEW_FIELDS(X)
#undef X
};

static int user_state_gc(lua_State *L)
{
	struct ucall *u = lua_touserdata(L, 1);
	free(u->scratch);
	u->scratch = NULL;
	u->scap = 0;
	return 0;
}

/* user_state(nrules): the state the loop and the view share (a userdata
 * that only their C closures hold). */
static int user_state(lua_State *L)
{
	lua_Integer n = luaL_checkinteger(L, 1);
	if (n < 0 || n > 65535)
		return luaL_error(L, "user_state: bad rule count");
	size_t nr = (size_t)n;
	size_t size = sizeof(struct ucall) + nr * (2 * sizeof(uint32_t) + 1);
	struct ucall *u = lua_newuserdata(L, size);
	memset(u, 0, size);
	u->nrules = (uint32_t)nr;
	u->inrow = (uint32_t *)(u + 1);
	u->stored = u->inrow + nr;
	u->kind = (uint8_t *)(u->stored + nr);
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, user_state_gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
	return 1;
}

/* view_fields(): { name = code } of the fields view_index() reads. */
static int view_fields(lua_State *L)
{
	lua_createtable(L, 0, VF_COUNT);
	for (int i = 1; i < VF_COUNT; i++) {
		lua_pushinteger(L, i);
		lua_setfield(L, -2, view_field_names[i - 1]);
	}
	return 1;
}

static void push_str(lua_State *L, const char *p, uint32_t n)
{
	if (!p || !n)
		lua_pushliteral(L, "");
	else
		lua_pushlstring(L, p, n);
}

static void push_flag(lua_State *L, uint32_t flags, uint32_t bit)
{
	lua_pushboolean(L, (flags & bit) != 0);
}

/* A new array of the argc NUL-terminated strings in len bytes at p (a
 * string without its NUL ends the list), as view.lua's split_args. */
static void push_args(lua_State *L, const char *p, uint32_t len, uint32_t argc)
{
	lua_createtable(L, argc < 64 ? (int)argc : 64, 0);
	if (!p)
		return;
	uint32_t pos = 0;
	for (uint32_t i = 1; i <= argc && pos < len; i++) {
		const char *z = memchr(p + pos, 0, len - pos);
		uint32_t n = z ? (uint32_t)(z - (p + pos)) : len - pos;
		lua_pushlstring(L, p + pos, n);
		lua_rawseti(L, -2, (int)i);
		if (!z)
			break;
		pos += n + 1;
	}
}

static void set_str(lua_State *L, const char *key, const char *p, uint32_t n)
{
	push_str(L, p, n);
	lua_setfield(L, -2, key);
}

/* ev.parent: a new table (view.lua's parent_of) */
static void push_parent(lua_State *L, const struct eg_event *e)
{
	const struct eg_proc *p = e->proc;
	lua_createtable(L, 0, 5);
	if (!p) {
		lua_pushnumber(L, e->ppid);
		lua_setfield(L, -2, "tgid");
		set_str(L, "exec_id", NULL, 0);
		set_str(L, "comm", NULL, 0);
		set_str(L, "exe", NULL, 0);
		lua_newtable(L);
		lua_setfield(L, -2, "args");
		return;
	}
	lua_pushnumber(L, p->parent_tgid ? p->parent_tgid : e->ppid);
	lua_setfield(L, -2, "tgid");
	set_str(L, "exec_id", p->parent_exec_id, p->parent_exec_id_len);
	set_str(L, "comm", p->parent_comm, p->parent_comm_len);
	set_str(L, "exe", p->parent_exe, p->parent_exe_len);
	push_args(L, p->parent_args, p->parent_args_len, p->parent_argc);
	lua_setfield(L, -2, "args");
}

/* ev.ancestors: a new array with the Lua view's metatable (at index mt) */
static void push_ancestors(lua_State *L, const struct eg_event *e, int mt)
{
	const struct eg_proc *p = e->proc;
	uint32_t n = p ? p->nancestors : 0;
	if (n > EG_ANCESTORS_MAX)
		n = EG_ANCESTORS_MAX;
	lua_createtable(L, (int)n, 0);
	for (uint32_t i = 0; i < n; i++) {
		const struct eg_ancestor *a = &p->ancestors[i];
		lua_createtable(L, 0, 2);
		set_str(L, "comm", a->comm, a->comm_len);
		set_str(L, "exe", a->exe, a->exe_len);
		lua_rawseti(L, -2, (int)i + 1);
	}
	lua_pushvalue(L, mt);
	lua_setmetatable(L, -2);
}

/* Raises msg at the position of the code that read ev (the caller of
 * __index), as the Lua view's error(msg, 2) does. */
static int view_error(lua_State *L, const char *fmt, const char *what)
{
	luaL_where(L, 1);
	lua_pushfstring(L, fmt, what);
	lua_concat(L, 2);
	return lua_error(L);
}

/* ev[key]. Upvalues: 1 the state, 2 { field = code } (every field of the
 * Lua view; 0: ask the Lua view), 3 the type names, 4 the Lua view's
 * reader fallback(key, index, seq), 5 the ancestors' metatable, 6 the
 * tables of the current call (args, parent, ancestors: user code may change
 * them, so each call gets its own, the same one for each read in a call). */
static int view_index(lua_State *L)
{
	struct ucall *u = lua_touserdata(L, lua_upvalueindex(1));
	lua_settop(L, 2);
	lua_pushvalue(L, 2);
	lua_rawget(L, lua_upvalueindex(2));
	if (lua_type(L, 3) != LUA_TNUMBER) {
		/* the key as the Lua view's tostring() shows it, no metamethod run */
		const char *what;
		int kt = lua_type(L, 2);
		if (kt == LUA_TSTRING || kt == LUA_TNUMBER)
			what = lua_tostring(L, 2);
		else if (kt == LUA_TNIL)
			what = "nil";
		else if (kt == LUA_TBOOLEAN)
			what = lua_toboolean(L, 2) ? "true" : "false";
		else
			what = lua_pushfstring(L, "%s: %p", luaL_typename(L, 2), lua_topointer(L, 2));
		return view_error(L, "ev has no field \"%s\"", what);
	}
	int code = (int)lua_tointeger(L, 3);
	const struct eg_event *e = u->cur;
	if (!e)
		return view_error(L, "%s", "ev used outside of the call it was passed to");
	const struct eg_proc *p = e->proc;
	const struct eg_container *c = e->ctr;
	const struct eg_host *h = e->host;
	switch (code) {
	case VF_ts_ns: lua_pushnumber(L, (lua_Number)e->ts_ns); break;
	case VF_timestamp: lua_pushnumber(L, (lua_Number)e->ts_ns / 1e9); break;
	case VF_pid: lua_pushnumber(L, e->pid); break;
	case VF_tgid: lua_pushnumber(L, e->tgid); break;
	case VF_ppid: lua_pushnumber(L, e->ppid); break;
	case VF_uid: lua_pushnumber(L, e->uid); break;
	case VF_gid: lua_pushnumber(L, e->gid); break;
	case VF_type:
		lua_rawgeti(L, lua_upvalueindex(3), (int)e->type);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_pushliteral(L, "unknown");
		}
		break;
	case VF_comm: push_str(L, e->comm, e->comm_len); break;
	case VF_name:
		if (e->type == EG_EV_EXEC) {
			const char *f = e->filename;
			uint32_t n = f ? e->filename_len : 0;
			const char *s = n ? memrchr(f, '/', n) : NULL;
			if (s)
				push_str(L, s + 1, (uint32_t)(f + n - (s + 1)));
			else
				push_str(L, f, n);
		} else {
			push_str(L, e->comm, e->comm_len);
		}
		break;
	case VF_filename: push_str(L, e->filename, e->filename_len); break;
	case VF_exe: push_str(L, e->exe, e->exe_len); break;
	case VF_dest_ip: push_str(L, e->dest_ip, e->dest_ip_len); break;
	case VF_dest_port: lua_pushnumber(L, e->dest_port); break;
	case VF_cgroup_id: lua_pushnumber(L, (lua_Number)e->cgroup_id); break;
	case VF_open_flags: lua_pushnumber(L, e->open_flags); break;
	case VF_memfd: push_flag(L, e->flags, EG_EVF_MEMFD); break;
	case VF_truncated: push_flag(L, e->flags, EG_EVF_TRUNCATED); break;
	case VF_requested: push_str(L, e->requested, e->requested_len); break;
	case VF_ret: lua_pushnumber(L, e->ret); break;
	case VF_requested_differs: push_flag(L, e->flags, EG_EVF_REQ_DIFFERS); break;
	case VF_io_uring: push_flag(L, e->flags, EG_EVF_IO_URING); break;
	case VF_compat: push_flag(L, e->flags, EG_EVF_COMPAT); break;
	case VF_interpreted: push_flag(L, e->flags, EG_EVF_INTERPRETED); break;
	case VF_datagram: push_flag(L, e->flags, EG_EVF_DATAGRAM); break;
	case VF_exec_id: p ? push_str(L, p->exec_id, p->exec_id_len) : lua_pushliteral(L, ""); break;
	case VF_cwd: p ? push_str(L, p->cwd, p->cwd_len) : lua_pushliteral(L, ""); break;
	case VF_tty: p ? push_str(L, p->tty, p->tty_len) : lua_pushliteral(L, ""); break;
	case VF_loginuid: lua_pushnumber(L, p ? p->loginuid : -1); break;
	case VF_context:
		if (!p || (p->flags & EG_PROCF_UNKNOWN))
			lua_pushliteral(L, "unknown");
		else if (p->flags & EG_PROCF_SEEDED)
			lua_pushliteral(L, "procfs");
		else if (p->flags & EG_PROCF_FORKED)
			lua_pushliteral(L, "fork");
		else
			lua_pushliteral(L, "exec");
		break;
	case VF_setuid: lua_pushboolean(L, p && (p->flags & EG_PROCF_SETUID)); break;
	case VF_setgid: lua_pushboolean(L, p && (p->flags & EG_PROCF_SETGID)); break;
	case VF_ld_preload: lua_pushboolean(L, p && (p->flags & EG_PROCF_LD_PRELOAD)); break;
	case VF_ld_library_path: lua_pushboolean(L, p && (p->flags & EG_PROCF_LD_LIBRARY_PATH)); break;
	case VF_container_id: c ? push_str(L, c->id, c->id_len) : lua_pushliteral(L, ""); break;
	case VF_container_runtime: c ? push_str(L, c->runtime, c->runtime_len) : lua_pushliteral(L, ""); break;
	case VF_pod_uid: c ? push_str(L, c->pod_uid, c->pod_uid_len) : lua_pushliteral(L, ""); break;
	case VF_cgroup: c ? push_str(L, c->cgroup, c->cgroup_len) : lua_pushliteral(L, ""); break;
	case VF_hostname: h ? push_str(L, h->name, h->name_len) : lua_pushliteral(L, ""); break;
	case VF_host_id: h ? push_str(L, h->id, h->id_len) : lua_pushliteral(L, ""); break;
	case VF_args:
	case VF_parent:
	case VF_ancestors: {
		int cache = lua_upvalueindex(6);
		if (u->tables_seq != u->seq) {
			for (int f = VF_args; f <= VF_ancestors; f++) {
				lua_pushnil(L);
				lua_rawseti(L, cache, f);
			}
			u->tables_seq = u->seq;
		}
		lua_rawgeti(L, cache, code);
		if (!lua_isnil(L, -1))
			break;
		lua_pop(L, 1);
		if (code == VF_args)
			push_args(L, e->args, e->args_len, e->argc);
		else if (code == VF_parent)
			push_parent(L, e);
		else
			push_ancestors(L, e, lua_upvalueindex(5));
		lua_pushvalue(L, -1);
		lua_rawseti(L, cache, code);
		break;
	}
	default:
		/* the Lua view: fallback(key, index, seq) */
		lua_pushvalue(L, lua_upvalueindex(4));
		lua_pushvalue(L, 2);
		lua_pushinteger(L, (lua_Integer)u->cur_i);
		lua_pushinteger(L, (lua_Integer)u->seq);
		lua_call(L, 3, 1);
		break;
	}
	return 1;
}

/* view_index_of(state, codes, type_names, fallback, ancestors_mt): the C
 * __index. */
static int view_index_of(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TUSERDATA);
	luaL_checktype(L, 2, LUA_TTABLE);
	luaL_checktype(L, 3, LUA_TTABLE);
	luaL_checktype(L, 4, LUA_TFUNCTION);
	luaL_checktype(L, 5, LUA_TTABLE);
	lua_settop(L, 5);
	lua_newtable(L);
	lua_pushcclosure(L, view_index, 6);
	return 1;
}

/* The user loop's upvalues (user_loop's options, by name). */
enum {
	UV_STATE = 1, /* the state */
	UV_FNS,       /* rule index -> the function to call */
	UV_ERRH,      /* the message handler of user calls */
	UV_VIEW,      /* ev */
	UV_EXIT,      /* exit(tgid): a process exit's forgetting (guard.forget) */
	UV_STORED,    /* stored(rule, type) -> whether the call is wanted */
	UV_FAIL,      /* fail(rule, message, in_a_row): an error of the call */
	UV_BAD,       /* bad(rule, result, in_a_row): a detection's bad result */
	UV_DESC,      /* hit index -> its description; desc.dirty when written */
	UV_GUARD,     /* the guard module: its now_ns is the event's time */
	UV_NOW_KEY,   /* "now_ns" */
	UV_DESC_KEY,  /* "description" */
	UV_DIRTY_KEY, /* "dirty" */
	UV_COUNT = UV_DIRTY_KEY
};

static const char *const uv_names[] = {
	NULL, "state", "fns", "errh", "view", "exit", "stored", "fail", "bad", "desc", "guard",
};
_Static_assert(sizeof(uv_names) / sizeof(uv_names[0]) == UV_NOW_KEY, "an upvalue without a name");

static int user_run(lua_State *L);

/* user_loop(opts): the loop, a C closure run(start, nh) -> nh over the
 * pending hits [start, nh) of the batch (compile.lua's USER_RUN). opts
 * holds the upvalues by name, batch = the struct eg_batch * (a light
 * userdata), kinds = { [rule] = "condition" | "detection" } (rules with
 * user code) and gated = { [rule] = { [type] = true } } (the event types
 * whose calls a detection's stored, once or once_per gates). */
static int user_loop(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "state");
	struct ucall *u = lua_touserdata(L, -1);
	if (!u)
		return luaL_error(L, "user_loop: no state");
	lua_pop(L, 1);
	lua_getfield(L, 1, "batch");
	u->b = lua_touserdata(L, -1);
	lua_pop(L, 1);
	if (!u->b)
		return luaL_error(L, "user_loop: no batch");
	/* the pending hits' marks, as compile.lua writes them */
	lua_getfield(L, 1, "pending");
	lua_getfield(L, 1, "exit_rule");
	if (lua_tointeger(L, -2) != PENDING || lua_tointeger(L, -1) != EXIT_RULE)
		return luaL_error(L, "user_loop: compile.lua marks pending hits %d and exits %d, this C loop %d and %d",
				  (int)lua_tointeger(L, -2), (int)lua_tointeger(L, -1), PENDING, EXIT_RULE);
	lua_pop(L, 2);
	for (uint32_t k = 0; k < u->nrules; k++) {
		lua_getfield(L, 1, "kinds");
		lua_rawgeti(L, -1, (int)k);
		const char *kind = lua_tostring(L, -1);
		u->kind[k] = !kind ? KIND_NONE : !strcmp(kind, "detection") ? KIND_DETECTION : KIND_CONDITION;
		lua_pop(L, 2);
		lua_getfield(L, 1, "gated");
		lua_rawgeti(L, -1, (int)k);
		for (int t = 0; t < 32 && lua_istable(L, -1); t++) {
			lua_rawgeti(L, -1, t);
			if (lua_toboolean(L, -1))
				u->stored[k] |= 1u << t;
			lua_pop(L, 1);
		}
		lua_pop(L, 2);
	}
	for (int i = 1; i < UV_NOW_KEY; i++) {
		lua_getfield(L, 1, uv_names[i]);
		if (lua_isnil(L, -1))
			return luaL_error(L, "user_loop: no %s", uv_names[i]);
	}
	lua_pushliteral(L, "now_ns");
	lua_pushliteral(L, "description");
	lua_pushliteral(L, "dirty");
	lua_pushcclosure(L, user_run, UV_COUNT);
	return 1;
}

/* hits[a] before hits[b]: event order, then rule order. */
static int hit_before(const struct eg_hit *h, uint32_t a, uint32_t b)
{
	return h[a].ev != h[b].ev ? h[a].ev < h[b].ev : h[a].rule < h[b].rule;
}

uint32_t *eg_hits_sort(const struct eg_hit *h, uint32_t *x, uint32_t *tmp, uint32_t n)
{
	for (uint32_t w = 1; w < n; w *= 2) {
		for (uint32_t lo = 0; lo < n; lo += 2 * w) {
			uint32_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			uint32_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				tmp[k++] = hit_before(h, x[j], x[i]) ? x[j++] : x[i++];
			while (i < mid)
				tmp[k++] = x[i++];
			while (j < hi)
				tmp[k++] = x[j++];
		}
		uint32_t *s = x;
		x = tmp;
		tmp = s;
	}
	return x;
}

/* A pending hit's outcome, in its flags until the compaction. */
#define HIT_DROPPED 0xffffu

/* run(start, nh) -> nh: the pending hits among [start, nh) (flags PENDING,
 * left by the rule loops in any order) called in event order, then rule
 * order; the hits that stand keep their places, compacted, their
 * descriptions in desc (as compile.lua's lua_user_run). */
static int user_run(lua_State *L)
{
	struct ucall *u = lua_touserdata(L, lua_upvalueindex(UV_STATE));
	struct eg_batch *b = u->b;
	uint32_t start = (uint32_t)lua_tointeger(L, 1), nh = (uint32_t)lua_tointeger(L, 2);
	if (nh > b->hits_cap || start > nh)
		return luaL_error(L, "user_loop: hits [%d, %d), room for %d", (int)start, (int)nh, (int)b->hits_cap);
	uint32_t npend = 0;
	for (uint32_t c = start; c < nh; c++)
		npend += b->hits[c].flags == PENDING;
	if (!npend) {
		lua_pushinteger(L, (lua_Integer)nh);
		return 1;
	}
	if (npend > u->scap) {
		uint32_t *p = realloc(u->scratch, (size_t)npend * 2 * sizeof(*p));
		if (!p)
			return luaL_error(L, "user_loop: out of memory");
		u->scratch = p;
		u->scap = npend;
	}
	uint32_t *x = u->scratch, n = 0;
	for (uint32_t c = start; c < nh; c++)
		if (b->hits[c].flags == PENDING)
			x[n++] = c;
	x = eg_hits_sort(b->hits, x, u->scratch + npend, npend);
	lua_settop(L, 0);
	lua_pushvalue(L, lua_upvalueindex(UV_ERRH)); /* 1: the message handler */
	lua_pushvalue(L, lua_upvalueindex(UV_DESC)); /* 2: desc */
	int any_desc = 0;
	eg_engine_hook(L, 1);
	for (uint32_t q = 0; q < npend; q++) {
		uint32_t c = x[q];
		struct eg_hit *h = &b->hits[c];
		uint32_t i = h->ev, k = h->rule;
		h->flags = HIT_DROPPED;
		if (k == EXIT_RULE) {
			/* a process's exit (not a thread's): exit(tgid) */
			if (b->ev[i].pid == b->ev[i].tgid) {
				lua_pushvalue(L, lua_upvalueindex(UV_EXIT));
				lua_pushnumber(L, b->ev[i].tgid);
				lua_call(L, 1, 0);
			}
			continue;
		}
		if (k >= u->nrules || u->kind[k] == KIND_NONE || (b->rule_disabled && b->rule_disabled[k]))
			continue;
		const struct eg_event *e = &b->ev[i];
		u->cur = e;
		u->cur_i = i;
		u->seq++;
		lua_pushvalue(L, lua_upvalueindex(UV_NOW_KEY));
		lua_pushnumber(L, (lua_Number)e->ts_ns);
		lua_rawset(L, lua_upvalueindex(UV_GUARD));
		if (e->type < 32 && (u->stored[k] & (1u << e->type))) {
			lua_pushvalue(L, lua_upvalueindex(UV_STORED));
			lua_pushinteger(L, (lua_Integer)k);
			lua_pushinteger(L, (lua_Integer)e->type);
			lua_call(L, 2, 1);
			int wanted = lua_toboolean(L, -1);
			lua_settop(L, 2);
			if (!wanted) {
				u->cur = NULL;
				continue;
			}
		}
		lua_rawgeti(L, lua_upvalueindex(UV_FNS), (int)k);
		lua_pushvalue(L, lua_upvalueindex(UV_VIEW));
		eg_engine_call_begin(b, k);
		int rc = lua_pcall(L, 1, 1, 1);
		eg_engine_call_end(b);
		u->cur = NULL;
		/* stack: 1 handler, 2 desc, 3 the result or the message; report:
		 * the Lua function told of an error or of a bad result */
		int t = lua_type(L, 3), hit = 0, report = rc ? UV_FAIL : 0;
		if (rc) {
			/* an error: reported below */
		} else if (u->kind[k] == KIND_CONDITION || t == LUA_TNIL || t == LUA_TBOOLEAN) {
			hit = lua_toboolean(L, 3);
		} else if (t == LUA_TSTRING) {
			hit = 2;
		} else if (t == LUA_TTABLE) {
			lua_pushvalue(L, lua_upvalueindex(UV_DESC_KEY));
			lua_rawget(L, 3);
			int dt = lua_type(L, 4);
			if (dt == LUA_TNIL) {
				hit = 1;
			} else if (dt == LUA_TSTRING) {
				lua_replace(L, 3);
				hit = 2;
			} else {
				report = UV_BAD;
			}
			lua_settop(L, 3);
		} else {
			report = UV_BAD;
		}
		if (report) {
			lua_pushvalue(L, lua_upvalueindex(report));
			lua_pushinteger(L, (lua_Integer)k);
			lua_pushvalue(L, 3);
			lua_pushinteger(L, (lua_Integer)++u->inrow[k]);
			lua_call(L, 3, 0);
			lua_settop(L, 2);
			continue;
		}
		u->inrow[k] = 0;
		if (hit == 2) {
			/* at the hit's place for now: moved by the compaction */
			lua_rawseti(L, 2, (int)c);
			any_desc = 1;
			h->flags = EG_HITF_DYNDESC;
		} else if (hit) {
			h->flags = 0;
		}
		lua_settop(L, 2);
	}
	eg_engine_hook(L, 0);
	/* compaction: j <= c, and a place below c gave its description away
	 * before it was written over */
	uint32_t j = start;
	for (uint32_t c = start; c < nh; c++) {
		if (b->hits[c].flags == HIT_DROPPED)
			continue;
		if (j != c) {
			b->hits[j] = b->hits[c];
			if (b->hits[j].flags == EG_HITF_DYNDESC) {
				lua_rawgeti(L, 2, (int)c);
				lua_rawseti(L, 2, (int)j);
				lua_pushnil(L);
				lua_rawseti(L, 2, (int)c);
			}
		}
		j++;
	}
	if (any_desc) {
		lua_pushvalue(L, lua_upvalueindex(UV_DIRTY_KEY));
		lua_pushboolean(L, 1);
		lua_rawset(L, 2);
	}
	lua_pushinteger(L, (lua_Integer)j);
	return 1;
}

void eg_usercall_register(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "user_state", user_state },
		{ "view_fields", view_fields },
		{ "view_index", view_index_of },
		{ "user_loop", user_loop },
		{ NULL, NULL },
	};
	luaL_register(L, NULL, fns);
}
