/* SPDX-License-Identifier: MIT */
/* The empty process context, and the local host's identity. */
#include "context.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char empty[1];

const struct eg_proc eg_proc_none = {
	.loginuid = -1,
	.flags = EG_PROCF_UNKNOWN,
	.exec_id = empty, .comm = empty, .exe = empty, .args = empty, .cwd = empty, .tty = empty,
	.parent_exec_id = empty, .parent_comm = empty, .parent_exe = empty, .parent_args = empty,
};

const struct eg_container eg_container_none = {
	.cgroup = empty, .id = empty, .runtime = empty, .pod_uid = empty,
};

const struct eg_host eg_host_none = {.name = empty, .id = empty};

static char host_name[256];
static char host_id[64];
static struct eg_host local_host = {.name = host_name, .id = host_id};

/* The first line of path, if it is 32 hex digits (a machine id). */
static size_t read_machine_id(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char line[128];
	size_t n = 0;
	if (fgets(line, sizeof(line), f)) {
		n = strcspn(line, "\r\n");
		for (size_t i = 0; i < n; i++)
			if (!isxdigit((unsigned char)line[i]))
				n = 0;
		if (n != 32)
			n = 0;
	}
	fclose(f);
	if (n && n < cap) {
		memcpy(out, line, n);
		out[n] = 0;
		return n;
	}
	return 0;
}

const struct eg_host *eg_host_local(void)
{
	if (local_host.name_len || local_host.id_len)
		return &local_host;
	if (gethostname(host_name, sizeof(host_name) - 1) == 0) {
		host_name[sizeof(host_name) - 1] = 0;
		local_host.name_len = (uint32_t)strlen(host_name);
	}
	size_t n = read_machine_id("/etc/machine-id", host_id, sizeof(host_id));
	if (!n)
		n = read_machine_id("/var/lib/dbus/machine-id", host_id, sizeof(host_id));
	local_host.id_len = (uint32_t)n;
	return &local_host;
}
