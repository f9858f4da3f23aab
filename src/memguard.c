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
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int eg_engine_user_map(size_t grow);

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if ((flags & MAP_ANONYMOUS) && eg_engine_user_map(len)) {
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
	if (new_len > old_len && eg_engine_user_map(new_len - old_len)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
}
