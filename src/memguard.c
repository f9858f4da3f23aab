/* SPDX-License-Identifier: MIT */
/*
 * The memory guard for sandboxed Lua, linked into the daemon only.
 *
 * 64-bit LuaJIT cannot take a custom allocator, but its heap grows only
 * through mmap64() and mremap() from libc. The daemon defines and exports
 * those two (with mmap, their alias), so libluajit's calls land here (the
 * executable comes first in symbol lookup; see the link options in
 * CMakeLists.txt). While sandboxed user code runs on the engine's thread,
 * eg_engine_user_map() counts the anonymous bytes it maps against the
 * per-call limit; past it the mapping fails with ENOMEM, which LuaJIT turns
 * into a "not enough memory" error inside the user call, and the engine
 * reports it as the memory limit. Every other mapping goes straight to the
 * kernel. Linked into the daemon and the engine fuzzers (tests/fuzz, where the
 * sanitizers' interceptors are weak and give way to it); not into the C
 * tests, the spec library or the ASan build of the daemon.
 *
 * Built with EG_MEMGUARD_PRELOAD it is libebpf-guard-memguard.so, which
 * `ebpf-guard test` preloads into busted's luajit so a spec's engine has the
 * daemon's memory limit too. The engine library is loaded later (through the
 * FFI, by ebpf_guard.testing), so the module hands over its accounting
 * function with eg_memguard_attach(); until then every mapping goes straight
 * to the kernel. The library takes itself out of LD_PRELOAD at load, so the
 * programs a spec starts do not inherit it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef EG_MEMGUARD_PRELOAD
#include <stdlib.h>
#include <string.h>

static int (*user_map)(size_t grow);

/* Called once by ebpf_guard.testing with the engine library's
 * eg_engine_user_map. */
void eg_memguard_attach(int (*fn)(size_t grow))
{
	user_map = fn;
}

static int refuse(size_t grow)
{
	return user_map && user_map(grow);
}

/* Drops the entries naming this library from LD_PRELOAD (separated by
 * spaces or colons), keeping the user's own. */
__attribute__((constructor)) static void leave_preload(void)
{
	const char *v = getenv("LD_PRELOAD");
	if (!v)
		return;
	char *keep = malloc(strlen(v) + 1);
	if (!keep)
		return;
	size_t n = 0;
	for (const char *p = v; *p;) {
		size_t len = strcspn(p, ": ");
		const char *base = p;
		for (const char *q = p; q < p + len; q++)
			if (*q == '/')
				base = q + 1;
		size_t blen = (size_t)(p + len - base);
		static const char me[] = "libebpf-guard-memguard.so";
		if (len && !(blen == sizeof(me) - 1 && !memcmp(base, me, blen))) {
			if (n)
				keep[n++] = ':';
			memcpy(keep + n, p, len);
			n += len;
		}
		p += len;
		if (*p)
			p++;
	}
	keep[n] = 0;
	if (n)
		setenv("LD_PRELOAD", keep, 1);
	else
		unsetenv("LD_PRELOAD");
	free(keep);
}
#else
int eg_engine_user_map(size_t grow);

static int refuse(size_t grow)
{
	return eg_engine_user_map(grow);
}
#endif

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if ((flags & MAP_ANONYMOUS) && refuse(len)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap64(addr, len, prot, flags, fd, off);
}

void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (new_len > old_len && refuse(new_len - old_len)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
}
