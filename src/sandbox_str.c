/* SPDX-License-Identifier: MIT */
/*
 * Lua pattern matching for sandboxed user code: string.find, string.match,
 * string.gmatch and string.gsub with Lua 5.1's pattern syntax and results,
 * but bounded. LuaJIT's own matcher runs in C where the instruction count
 * hook never fires, so a pattern such as ("a*"):rep(20).."b" on a 40-byte
 * subject could stall the daemon, and gsub callbacks that call gsub again
 * overflowed the C stack. Here every step of the matcher is charged to the
 * caller's instruction budget (eg_engine_charge), the matcher's recursion is
 * capped, replacement callbacks may nest only a few levels, and a gsub result
 * is bounded in size.
 *
 * The matcher follows the algorithm of Lua 5.1's lstrlib.c (MIT licence,
 * Copyright (C) 1994-2012 Lua.org, PUC-Rio): backtracking over single
 * character classes with greedy (*, +), lazy (-) and optional (?) items,
 * captures, position captures, %b and %f.
 */
#include "sandbox_str.h"

#include <ctype.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "engine.h"

#define L_ESC '%'
#define SPECIALS "^$*+?.([%-"
#define MAXCAPTURES 32
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)
#define MATCH_DEPTH 200       /* nested match() calls */
#define CHARGE_EVERY 256      /* steps between budget charges */
#define CALLBACK_DEPTH 8      /* gsub replacement calls nested in each other */
#define GSUB_MAX_BYTES (1u << 20)

struct match_state {
	const char *src_init;
	const char *src_end;
	lua_State *L;
	int level;
	int depth;
	unsigned steps;
	struct {
		const char *init;
		ptrdiff_t len;
	} capture[MAXCAPTURES];
};

static __thread int callback_depth;

/* Counts one step; every CHARGE_EVERY steps charges the budget (may raise). */
static inline void step(struct match_state *ms)
{
	if (++ms->steps >= CHARGE_EVERY) {
		ms->steps = 0;
		eg_engine_charge(ms->L, CHARGE_EVERY);
	}
}

static const char *match(struct match_state *ms, const char *s, const char *p);

static int check_capture(struct match_state *ms, int l)
{
	l -= '1';
	if (l < 0 || l >= ms->level || ms->capture[l].len == CAP_UNFINISHED)
		return luaL_error(ms->L, "invalid capture index");
	return l;
}

static int capture_to_close(struct match_state *ms)
{
	int level = ms->level;
	for (level--; level >= 0; level--)
		if (ms->capture[level].len == CAP_UNFINISHED)
			return level;
	return luaL_error(ms->L, "invalid pattern capture");
}

static const char *class_end(struct match_state *ms, const char *p)
{
	switch (*p++) {
	case L_ESC:
		if (*p == '\0')
			luaL_error(ms->L, "malformed pattern (ends with '%%')");
		return p + 1;
	case '[':
		if (*p == '^')
			p++;
		do { /* look for a ']' */
			if (*p == '\0')
				luaL_error(ms->L, "malformed pattern (missing ']')");
			if (*(p++) == L_ESC && *p != '\0')
				p++; /* skip escapes (e.g. '%]') */
		} while (*p != ']');
		return p + 1;
	default:
		return p;
	}
}

static int match_class(int c, int cl)
{
	int res;
	switch (tolower(cl)) {
	case 'a': res = isalpha(c); break;
	case 'c': res = iscntrl(c); break;
	case 'd': res = isdigit(c); break;
	case 'l': res = islower(c); break;
	case 'p': res = ispunct(c); break;
	case 's': res = isspace(c); break;
	case 'u': res = isupper(c); break;
	case 'w': res = isalnum(c); break;
	case 'x': res = isxdigit(c); break;
	case 'z': res = (c == 0); break;
	default: return (cl == c);
	}
	if (islower(cl))
		return res;
	return !res;
}

static int match_bracket_class(int c, const char *p, const char *ec)
{
	int sig = 1;
	if (*(p + 1) == '^') {
		sig = 0;
		p++; /* skip the '^' */
	}
	while (++p < ec) {
		if (*p == L_ESC) {
			p++;
			if (match_class(c, (unsigned char)*p))
				return sig;
		} else if (*(p + 1) == '-' && (p + 2 < ec)) {
			p += 2;
			if ((unsigned char)*(p - 2) <= c && c <= (unsigned char)*p)
				return sig;
		} else if ((unsigned char)*p == c) {
			return sig;
		}
	}
	return !sig;
}

static int single_match(int c, const char *p, const char *ep)
{
	switch (*p) {
	case '.': return 1;
	case L_ESC: return match_class(c, (unsigned char)*(p + 1));
	case '[': return match_bracket_class(c, p, ep - 1);
	default: return ((unsigned char)*p == c);
	}
}

static const char *match_balance(struct match_state *ms, const char *s, const char *p)
{
	if (*p == 0 || *(p + 1) == 0)
		luaL_error(ms->L, "unbalanced pattern");
	if (*s != *p)
		return NULL;
	int b = *p, e = *(p + 1), cont = 1;
	while (++s < ms->src_end) {
		step(ms);
		if (*s == e) {
			if (--cont == 0)
				return s + 1;
		} else if (*s == b) {
			cont++;
		}
	}
	return NULL;
}

static const char *max_expand(struct match_state *ms, const char *s, const char *p,
			      const char *ep)
{
	ptrdiff_t i = 0;
	while ((s + i) < ms->src_end && single_match((unsigned char)*(s + i), p, ep)) {
		step(ms);
		i++;
	}
	/* try with the most repetitions, then fewer */
	while (i >= 0) {
		const char *res = match(ms, (s + i), ep + 1);
		if (res)
			return res;
		i--;
	}
	return NULL;
}

static const char *min_expand(struct match_state *ms, const char *s, const char *p,
			      const char *ep)
{
	for (;;) {
		const char *res = match(ms, s, ep + 1);
		if (res != NULL)
			return res;
		if (s < ms->src_end && single_match((unsigned char)*s, p, ep))
			s++;
		else
			return NULL;
	}
}

static const char *start_capture(struct match_state *ms, const char *s, const char *p,
				 int what)
{
	int level = ms->level;
	if (level >= MAXCAPTURES)
		luaL_error(ms->L, "too many captures");
	ms->capture[level].init = s;
	ms->capture[level].len = what;
	ms->level = level + 1;
	const char *res = match(ms, s, p);
	if (res == NULL)
		ms->level--; /* undo the capture */
	return res;
}

static const char *end_capture(struct match_state *ms, const char *s, const char *p)
{
	int l = capture_to_close(ms);
	ms->capture[l].len = s - ms->capture[l].init;
	const char *res = match(ms, s, p);
	if (res == NULL)
		ms->capture[l].len = CAP_UNFINISHED;
	return res;
}

static const char *match_capture(struct match_state *ms, const char *s, int l)
{
	l = check_capture(ms, l);
	size_t len = (size_t)ms->capture[l].len;
	if ((size_t)(ms->src_end - s) >= len && memcmp(ms->capture[l].init, s, len) == 0)
		return s + len;
	return NULL;
}

static const char *do_match(struct match_state *ms, const char *s, const char *p)
{
init: /* using goto's to optimize tail recursion */
	step(ms);
	switch (*p) {
	case '(':
		if (*(p + 1) == ')')
			return start_capture(ms, s, p + 2, CAP_POSITION);
		return start_capture(ms, s, p + 1, CAP_UNFINISHED);
	case ')':
		return end_capture(ms, s, p + 1);
	case L_ESC:
		switch (*(p + 1)) {
		case 'b':
			s = match_balance(ms, s, p + 2);
			if (s == NULL)
				return NULL;
			p += 4;
			goto init;
		case 'f': {
			p += 2;
			if (*p != '[')
				luaL_error(ms->L, "missing '[' after '%%f' in pattern");
			const char *ep = class_end(ms, p);
			int previous = (s == ms->src_init) ? '\0' : (unsigned char)*(s - 1);
			int current = (s < ms->src_end) ? (unsigned char)*s : '\0';
			if (match_bracket_class(previous, p, ep - 1) ||
			    !match_bracket_class(current, p, ep - 1))
				return NULL;
			p = ep;
			goto init;
		}
		default:
			if (isdigit((unsigned char)*(p + 1))) {
				s = match_capture(ms, s, (unsigned char)*(p + 1));
				if (s == NULL)
					return NULL;
				p += 2;
				goto init;
			}
			goto dflt;
		}
	case '\0':
		return s; /* end of pattern */
	case '$':
		if (*(p + 1) == '\0')
			return (s == ms->src_end) ? s : NULL;
		goto dflt;
	default:
	dflt: {
		const char *ep = class_end(ms, p);
		int m = s < ms->src_end && single_match((unsigned char)*s, p, ep);
		switch (*ep) {
		case '?': {
			const char *res;
			if (m && ((res = match(ms, s + 1, ep + 1)) != NULL))
				return res;
			p = ep + 1;
			goto init;
		}
		case '*':
			return max_expand(ms, s, p, ep);
		case '+':
			return (m ? max_expand(ms, s + 1, p, ep) : NULL);
		case '-':
			return min_expand(ms, s, p, ep);
		default:
			if (!m)
				return NULL;
			s++;
			p = ep;
			goto init;
		}
	}
	}
}

/* match() with the recursion cap. */
static const char *match(struct match_state *ms, const char *s, const char *p)
{
	if (++ms->depth > MATCH_DEPTH)
		luaL_error(ms->L, "pattern too complex (nested more than %d levels)", MATCH_DEPTH);
	const char *r = do_match(ms, s, p);
	ms->depth--;
	return r;
}

static void push_onecapture(struct match_state *ms, int i, const char *s, const char *e)
{
	if (i >= ms->level) {
		if (i == 0) /* ms->level == 0, too */
			lua_pushlstring(ms->L, s, (size_t)(e - s)); /* add whole match */
		else
			luaL_error(ms->L, "invalid capture index");
	} else {
		ptrdiff_t l = ms->capture[i].len;
		if (l == CAP_UNFINISHED)
			luaL_error(ms->L, "unfinished capture");
		if (l == CAP_POSITION)
			lua_pushinteger(ms->L, ms->capture[i].init - ms->src_init + 1);
		else
			lua_pushlstring(ms->L, ms->capture[i].init, (size_t)l);
	}
}

static int push_captures(struct match_state *ms, const char *s, const char *e)
{
	int nlevels = (ms->level == 0 && s) ? 1 : ms->level;
	luaL_checkstack(ms->L, nlevels, "too many captures");
	for (int i = 0; i < nlevels; i++)
		push_onecapture(ms, i, s, e);
	return nlevels; /* number of strings pushed */
}

static ptrdiff_t posrelat(ptrdiff_t pos, size_t len)
{
	/* relative string position: negative means back from end */
	if (pos < 0)
		pos += (ptrdiff_t)len + 1;
	return (pos >= 0) ? pos : 0;
}

static void init_state(struct match_state *ms, lua_State *L, const char *s, size_t ls)
{
	ms->L = L;
	ms->src_init = s;
	ms->src_end = s + ls;
	ms->level = 0;
	ms->depth = 0;
	ms->steps = 0;
}

static int str_find_aux(lua_State *L, int find)
{
	size_t l1, l2;
	const char *s = luaL_checklstring(L, 1, &l1);
	const char *p = luaL_checklstring(L, 2, &l2);
	ptrdiff_t init = posrelat(luaL_optinteger(L, 3, 1), l1) - 1;
	if (init < 0)
		init = 0;
	else if ((size_t)(init) > l1)
		init = (ptrdiff_t)l1;
	if (find && (lua_toboolean(L, 4) || strpbrk(p, SPECIALS) == NULL)) {
		/* plain search: memmem is linear */
		eg_engine_charge(L, (l1 - (size_t)init) / 16 + 1);
		const char *s2 = l2 == 0 ? s + init : memmem(s + init, l1 - (size_t)init, p, l2);
		if (s2) {
			lua_pushinteger(L, s2 - s + 1);
			lua_pushinteger(L, (s2 - s) + (ptrdiff_t)l2);
			return 2;
		}
	} else {
		struct match_state ms;
		int anchor = (*p == '^') && (p++, 1);
		const char *s1 = s + init;
		init_state(&ms, L, s, l1);
		do {
			const char *res;
			ms.level = 0;
			ms.depth = 0;
			if ((res = match(&ms, s1, p)) != NULL) {
				if (find) {
					lua_pushinteger(L, s1 - s + 1); /* start */
					lua_pushinteger(L, res - s);    /* end */
					return push_captures(&ms, NULL, 0) + 2;
				}
				return push_captures(&ms, s1, res);
			}
		} while (s1++ < ms.src_end && !anchor);
	}
	lua_pushnil(L); /* not found */
	return 1;
}

static int str_find(lua_State *L)
{
	return str_find_aux(L, 1);
}

static int str_match(lua_State *L)
{
	return str_find_aux(L, 0);
}

/* gmatch iterator; upvalues: subject, pattern, position. */
static int gmatch_aux(lua_State *L)
{
	struct match_state ms;
	size_t ls;
	const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
	const char *p = lua_tostring(L, lua_upvalueindex(2));
	init_state(&ms, L, s, ls);
	for (const char *src = s + (size_t)lua_tointeger(L, lua_upvalueindex(3)); src <= ms.src_end;
	     src++) {
		const char *e;
		ms.level = 0;
		ms.depth = 0;
		if ((e = match(&ms, src, p)) != NULL) {
			lua_Integer newstart = e - s;
			if (e == src)
				newstart++; /* empty match? go at least one position */
			lua_pushinteger(L, newstart);
			lua_replace(L, lua_upvalueindex(3));
			return push_captures(&ms, src, e);
		}
	}
	return 0; /* not found */
}

static int str_gmatch(lua_State *L)
{
	luaL_checkstring(L, 1);
	luaL_checkstring(L, 2);
	lua_settop(L, 2);
	lua_pushinteger(L, 0);
	lua_pushcclosure(L, gmatch_aux, 3);
	return 1;
}

/* Appends to b, failing past GSUB_MAX_BYTES; *total counts the bytes. */
static void add_bytes(lua_State *L, luaL_Buffer *b, size_t *total, const char *s, size_t n)
{
	*total += n;
	if (*total > GSUB_MAX_BYTES)
		luaL_error(L, "string.gsub: result too large (limit %d bytes)", (int)GSUB_MAX_BYTES);
	luaL_addlstring(b, s, n);
}

static void add_s(struct match_state *ms, luaL_Buffer *b, size_t *total, const char *s,
		  const char *e)
{
	size_t l;
	const char *news = lua_tolstring(ms->L, 3, &l);
	for (size_t i = 0; i < l; i++) {
		if (news[i] != L_ESC) {
			add_bytes(ms->L, b, total, news + i, 1);
			continue;
		}
		i++; /* skip ESC */
		if (!isdigit((unsigned char)news[i])) {
			add_bytes(ms->L, b, total, news + i, 1);
		} else if (news[i] == '0') {
			add_bytes(ms->L, b, total, s, (size_t)(e - s));
		} else {
			push_onecapture(ms, news[i] - '1', s, e);
			size_t cl;
			const char *c = lua_tolstring(ms->L, -1, &cl);
			/* the capture is a string or a position */
			if (c)
				add_bytes(ms->L, b, total, c, cl);
			lua_pop(ms->L, 1);
		}
	}
}

/*
 * Calls the replacement (function or table lookup) with the callback depth
 * bounded. The call runs under lua_pcall so the depth is restored on every
 * path; an error is raised again unchanged (the budget error included).
 */
static int call_repl(lua_State *L)
{
	/* stack: repl, key or captures... ; upvalue: number of arguments */
	int nargs = lua_gettop(L) - 1;
	if (lua_istable(L, 1)) {
		lua_gettable(L, 1);
		return 1;
	}
	lua_call(L, nargs, 1);
	return 1;
}

static void add_value(struct match_state *ms, luaL_Buffer *b, size_t *total, const char *s,
		      const char *e)
{
	lua_State *L = ms->L;
	switch (lua_type(L, 3)) {
	case LUA_TFUNCTION:
	case LUA_TTABLE: {
		if (callback_depth >= CALLBACK_DEPTH)
			luaL_error(L, "string.gsub: replacements nested more than %d levels",
				   CALLBACK_DEPTH);
		lua_pushcfunction(L, call_repl);
		lua_pushvalue(L, 3);
		int n = lua_istable(L, 3) ? (push_onecapture(ms, 0, s, e), 1) : push_captures(ms, s, e);
		callback_depth++;
		int rc = lua_pcall(L, n + 1, 1, 0);
		callback_depth--;
		if (rc)
			lua_error(L);
		break;
	}
	default: /* LUA_TNUMBER or LUA_TSTRING */
		add_s(ms, b, total, s, e);
		return;
	}
	if (!lua_toboolean(L, -1)) { /* nil or false? */
		lua_pop(L, 1);
		lua_pushlstring(L, s, (size_t)(e - s)); /* keep original text */
	} else if (!lua_isstring(L, -1)) {
		luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
	}
	size_t vl;
	lua_tolstring(L, -1, &vl);
	*total += vl;
	if (*total > GSUB_MAX_BYTES)
		luaL_error(L, "string.gsub: result too large (limit %d bytes)", (int)GSUB_MAX_BYTES);
	luaL_addvalue(b); /* add result to accumulator */
}

static int str_gsub(lua_State *L)
{
	size_t srcl;
	const char *src = luaL_checklstring(L, 1, &srcl);
	const char *p = luaL_checkstring(L, 2);
	int tr = lua_type(L, 3);
	int max_s = (int)luaL_optinteger(L, 4, (lua_Integer)srcl + 1);
	int anchor = (*p == '^') && (p++, 1);
	int n = 0;
	size_t total = 0;
	struct match_state ms;
	luaL_Buffer b;
	luaL_argcheck(L,
		      tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION ||
			      tr == LUA_TTABLE,
		      3, "string/function/table expected");
	luaL_buffinit(L, &b);
	init_state(&ms, L, src, srcl);
	while (n < max_s) {
		const char *e;
		ms.level = 0;
		ms.depth = 0;
		e = match(&ms, src, p);
		if (e) {
			n++;
			add_value(&ms, &b, &total, src, e);
		}
		if (e && e > src) { /* non empty match? */
			src = e;    /* skip it */
		} else if (src < ms.src_end) {
			add_bytes(L, &b, &total, src++, 1);
		} else {
			break;
		}
		if (anchor)
			break;
	}
	add_bytes(L, &b, &total, src, (size_t)(ms.src_end - src));
	luaL_pushresult(&b);
	lua_pushinteger(L, n); /* number of substitutions */
	return 2;
}

static __thread int sorting;

/*
 * sort(t [, cmp]): table.sort (upvalue 1) for user code. The C sort's own
 * work is charged (n log2 n steps) and a comparator may not sort again:
 * nested C sorts multiplied each other's cost outside the budget. The flag
 * lives in C so that no instruction (and so no budget error) can fall
 * between setting and clearing it.
 */
static int safe_sort(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	if (sorting)
		return luaL_error(L, "table.sort: a comparator may not call table.sort");
	size_t n = lua_objlen(L, 1);
	if (n > 1) {
		uint64_t cost = n, lg = 1;
		for (size_t m = n; m > 2; m /= 2)
			lg++;
		cost *= lg;
		eg_engine_charge(L, cost > UINT32_MAX ? UINT32_MAX : (uint32_t)cost);
	}
	lua_settop(L, 2);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	sorting = 1;
	int rc = lua_pcall(L, 2, 0, 0);
	sorting = 0;
	if (rc)
		return lua_error(L);
	return 0;
}

int eg_open_sandbox_str(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"find", str_find},
		{"match", str_match},
		{"gmatch", str_gmatch},
		{"gsub", str_gsub},
		{NULL, NULL},
	};
	lua_newtable(L);
	luaL_register(L, NULL, fns);
	lua_getglobal(L, "table");
	lua_getfield(L, -1, "sort");
	lua_pushcclosure(L, safe_sort, 1);
	lua_setfield(L, -3, "sort");
	lua_pop(L, 1);
	return 1;
}
