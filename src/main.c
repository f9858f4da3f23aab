/* SPDX-License-Identifier: MIT */
/* ebpf-guard: command line, signals, and the choice of live or replay mode. */
#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <bpf/libbpf.h>
#include <luajit.h>
#include <pcre2.h>

#include "alerts.h"
#include "collector.h"
#include "engine.h"
#include "harden.h"
#include "metrics.h"
#include "outputs.h"
#include "pipeline.h"
#include "recfilter.h"
#include "replay.h"
#include "syscall_filter.h"

#define MAX_CONFIGS 256
#define MAX_DISABLE 256 /* -disable-rule, -disable-tag values, each */
#define MAX_RECORD_FILTER 256 /* -record-pid, -record-comm, -record-cgroup values, each */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	switch (sig) {
	case SIGHUP:
		eg_pipe_request_reload();
		eg_pipe_request_reopen();
		break;
	case SIGUSR1:
		eg_pipe_request_reopen();
		break;
	default:
		stop = 1;
	}
}

static const char usage_text[] =
	"Usage: ebpf-guard [flags]\n"
	"       ebpf-guard test [SPEC_DIR_OR_FILE...] [busted options]\n"
	"\n"
	"Watches system calls with eBPF (exec, open, connect, and the privilege,\n"
	"persistence, evasion and inbound-network families: ptrace, module, bpf,\n"
	"setid, namespace, mount, link, rename, unlink, chmod, memfd, dup, listen,\n"
	"accept) and raises alerts from built-in heuristics, YAML rules and Lua\n"
	"detections; a probe is attached only when a rule wants its type. Flags take\n"
	"one or two dashes, and values as '-flag value' or '-flag=value'.\n"
	"\n"
	"Flags:\n"
	"  -config PATH          rule file (.yaml/.yml), Lua detection file (.lua) or a\n"
	"                        directory of them, loaded in name order; repeatable.\n"
	"                        Without it only the built-in heuristics run.\n"
	"  -alert-file PATH      JSONL alert file, created 0600 (default ./alerts.jsonl),\n"
	"                        never opened through a symbolic link or a hard link;\n"
	"                        '-' writes alerts to stdout and the [ALERT] lines to stderr\n"
	"  -syslog ADDR          also send each alert as an RFC 5424 syslog message to a\n"
	"                        Unix datagram socket (/dev/log, unix:/path) or to\n"
	"                        udp://HOST:PORT; never waits: a full or missing receiver\n"
	"                        drops the alert (counted). See docs/output.md, Outputs\n"
	"  -syslog-facility NAME facility of -syslog and -journald messages (default daemon;\n"
	"                        kern, user, auth, authpriv, local0..local7, ...)\n"
	"  -journald             also send each alert to journald (native protocol, fields\n"
	"                        EBPF_GUARD_RULE_ID=, EBPF_GUARD_ALERT=<json>, ...)\n"
	"  -webhook-url URL      also POST alerts as a JSON array to this http:// or https://\n"
	"                        URL, from a thread of its own with a bounded queue: a dead\n"
	"                        or slow endpoint never holds up detection or the file\n"
	"  -webhook-header 'Name: value'  extra request header; repeatable\n"
	"  -webhook-ca-file PATH CA certificates (PEM) to verify the server with instead of\n"
	"                        the system's (TLS verification is always on)\n"
	"  -webhook-queue N      alerts the queue holds; more are dropped (default 10000)\n"
	"  -webhook-batch N      at most N alerts per request (default 100)\n"
	"  -webhook-flush-ms MS  send a partial batch once its oldest alert waited MS\n"
	"                        (default 1000)\n"
	"  -webhook-timeout-ms MS  time allowed per request (default 10000)\n"
	"  -webhook-retries N    retries of a failed request (connection error, timeout,\n"
	"                        429, 5xx; backoff 0.5 s doubling to 30 s) before its\n"
	"                        alerts are dropped (default 5); other 4xx: no retry\n"
	"  -webhook-drain-ms MS  at exit, keep sending the queue for at most MS, then drop\n"
	"                        the rest (default 5000)\n"
	"  -prom-addr ADDR       Prometheus metrics address (default :9100 when live; off in\n"
	"                        replay unless given); '' disables the server\n"
	"  -bpf-object PATH      load the BPF programs from this object instead of the\n"
	"                        embedded one\n"
	"  -replay FILE          read recorded events (JSONL) from FILE ('-' = stdin)\n"
	"                        instead of the kernel, then exit; needs no root\n"
	"  -record FILE          append every event to FILE as JSONL (the -replay format),\n"
	"                        or only those the -record-* filters below let through\n"
	"                        (they combine with AND; a repeated one with OR); in\n"
	"                        replay mode too, to trim a recording\n"
	"  -record-types LIST    only these event types (comma-separated: exec,open,...);\n"
	"                        live, their probes are attached even if no rule wants them\n"
	"  -record-pid PID       only this process and its descendants; repeatable\n"
	"  -record-comm REGEX    only events whose task name (comm) matches this PCRE2\n"
	"                        regex; repeatable\n"
	"  -record-cgroup PREFIX only events whose cgroup path starts with PREFIX;\n"
	"                        repeatable\n"
	"  -record-max-size MiB  stop writing to the record file when the next event would\n"
	"                        take it past this size (1..1048576); counted in\n"
	"                        ebpf_guard_record_events_skipped_total{reason=\"size\"}\n"
	"  -alert-rate-limit N/s at most N alerts per second per rule; the rest are\n"
	"                        counted and summarised\n"
	"  -all-events           attach every probe even when no rule asks for its event\n"
	"                        type (counts every event in metrics, like the reference)\n"
	"  -watch                reload the configuration when a -config file changes\n"
	"                        (as SIGHUP does; rule files in -config directories too)\n"
	"  -no-seccomp           run without the system call filter (for debugging: see\n"
	"                        docs/operations.md, Hardening)\n"
	"  -strict-perms         refuse -config files and directories (and those above\n"
	"                        them) that group or others may write, or that are not\n"
	"                        owned by root; without it they are only warned about\n"
	"  -lua-path DIR         load the engine's Lua sources from DIR instead of the\n"
	"                        embedded copy (development)\n"
	"  -lua-budget N         instructions a Lua detection or condition may run per\n"
	"                        event (default 100000; a file's top level 10x)\n"
	"  -lua-memory MiB       memory one Lua detection or condition call may allocate\n"
	"                        (default 64; the whole Lua heap is capped at 16x)\n"
	"  -lua-max-errors N     take a Lua detection or condition out of service after\n"
	"                        N errors in a row, until the next reload (default 100;\n"
	"                        0: never)\n"
	"  -process-table-size N processes the daemon keeps context for (parent,\n"
	"                        ancestors, cwd...; default 32768, least recently used\n"
	"                        evicted first; 64..4194304)\n"
	"  -disable-rule ID      do not run the rule (YAML, Lua or built-in) with this id,\n"
	"                        at start-up and at every reload; repeatable. An id no\n"
	"                        rule has is an error\n"
	"  -disable-tag TAG      do not run the rules carrying this tag (e.g. T1059.004);\n"
	"                        repeatable. A tag no rule has is an error\n"
	"  -v                    verbose: libbpf debug output, the privileges kept\n"
	"  -validate             load the configuration as the daemon would (-config,\n"
	"                        -strict-perms, -disable-rule, -disable-tag, -lua-*),\n"
	"                        print a summary line and exit 0, or every problem found\n"
	"                        and exit 1; needs no root, starts nothing\n"
	"  -list-rules           print every rule of the configuration (built-ins, YAML\n"
	"                        rules, Lua detections): id, event types, severity,\n"
	"                        tags, source file:line and whether it runs, then exit\n"
	"  -json                 with -list-rules: print a JSON array instead of a table\n"
	"  -version              print the version and exit\n"
	"  -help                 print this help and exit\n"
	"\n"
	"Commands:\n"
	"  test                  run busted specs of rules and detections (default: the\n"
	"                        spec/ directory) under LuaJIT, with the ebpf_guard.testing\n"
	"                        module and the engine library found; needs the Debian\n"
	"                        packages lua-busted and luajit. See docs/testing.md\n"
	"\n"
	"Signals: SIGHUP reloads the configuration and reopens the alert and record\n"
	"files; SIGUSR1 reopens the alert and record files; SIGINT/SIGTERM drain,\n"
	"flush and exit.\n"
	"\n"
	"Hardening: once its probes are attached (in replay mode, before the first\n"
	"event) the daemon keeps only the capabilities it still needs (CAP_PERFMON to\n"
	"attach probes at a reload; none in replay mode or with -all-events), sets\n"
	"no_new_privs and installs a seccomp filter: a refused system call is named\n"
	"on stderr and the process dies of SIGSYS. See docs/operations.md.\n"
	"See docs/ for the rule schema, Lua detections and metrics.\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "ebpf-guard: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n\n%s", usage_text);
	return 2;
}

struct cli {
	const char *configs[MAX_CONFIGS];
	size_t nconfigs;
	const char *disable_rules[MAX_DISABLE];
	size_t ndisable_rules;
	const char *disable_tags[MAX_DISABLE];
	size_t ndisable_tags;
	const char *alert_file;
	const char *prom_addr;
	bool prom_addr_set;
	const char *bpf_object;
	const char *replay;
	const char *record;
	uint32_t record_types;
	uint32_t record_pids[MAX_RECORD_FILTER];
	size_t nrecord_pids;
	const char *record_comms[MAX_RECORD_FILTER];
	size_t nrecord_comms;
	const char *record_cgroups[MAX_RECORD_FILTER];
	size_t nrecord_cgroups;
	unsigned long record_max_mb;
	const char *record_filter_flag; /* the first -record-* flag given */
	const char *lua_path;
	double rate_limit;
	unsigned long budget;
	int max_errors;
	unsigned long mem_mb;
	unsigned long proc_table;
	struct eg_outputs_opts out; /* -syslog, -journald, -webhook-* */
	bool all_events, verbose, version, help, watch, strict_perms, no_seccomp;
	bool validate, list_rules, json;
};

static int parse_bool(const char *v, bool *out)
{
	if (!v || !strcmp(v, "true") || !strcmp(v, "1")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "0")) {
		*out = false;
		return 0;
	}
	return -1;
}

static int parse_rate(const char *v, double *out)
{
	char *end;
	errno = 0;
	double r = strtod(v, &end);
	if (errno || end == v || r <= 0 || !(r < 1e9))
		return -1;
	if (*end && strcmp(end, "/s"))
		return -1;
	*out = r;
	return 0;
}

/* One of -record-types, -record-pid, -record-comm, -record-cgroup,
 * -record-max-size (name without the dash). Returns -1 when fine, else the
 * exit code. */
static int parse_record_flag(struct cli *c, const char *name, const char *val)
{
	static char flag[64];
	if (!c->record_filter_flag) {
		snprintf(flag, sizeof(flag), "%s", name);
		c->record_filter_flag = flag;
	}
	char err[512];
	char *end;
	if (!strcmp(name, "record-types")) {
		if (!*val)
			return usage_error("-record-types needs a comma-separated list of event types%s", "");
		if (eg_recfilter_parse_types(val, &c->record_types, err, sizeof(err)))
			return usage_error("%s", err);
	} else if (!strcmp(name, "record-pid")) {
		errno = 0;
		unsigned long pid = strtoul(val, &end, 10);
		if (errno || *end || !*val || *val == '-' || !pid || pid > UINT32_MAX)
			return usage_error("invalid -record-pid '%s': expected a process id 1..4294967295", val);
		if (c->nrecord_pids == MAX_RECORD_FILTER)
			return usage_error("too many -record-pid flags (at most %s)", "256");
		c->record_pids[c->nrecord_pids++] = (uint32_t)pid;
	} else if (!strcmp(name, "record-comm")) {
		if (!*val)
			return usage_error("-record-comm needs a regular expression%s", "");
		if (c->nrecord_comms == MAX_RECORD_FILTER)
			return usage_error("too many -record-comm flags (at most %s)", "256");
		c->record_comms[c->nrecord_comms++] = val;
	} else if (!strcmp(name, "record-cgroup")) {
		if (!*val)
			return usage_error("-record-cgroup needs a cgroup path prefix%s", "");
		if (c->nrecord_cgroups == MAX_RECORD_FILTER)
			return usage_error("too many -record-cgroup flags (at most %s)", "256");
		c->record_cgroups[c->nrecord_cgroups++] = val;
	} else { /* record-max-size */
		errno = 0;
		c->record_max_mb = strtoul(val, &end, 10);
		if (errno || *end || !*val || *val == '-' || c->record_max_mb < 1 ||
		    c->record_max_mb > 1048576)
			return usage_error("invalid -record-max-size '%s': expected 1..1048576 (MiB)", val);
	}
	return -1;
}

/* Parses argv Go-flag style. Returns -1 when fine, else the exit code. */
static int parse_cli(int argc, char **argv, struct cli *c)
{
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (a[0] != '-' || !a[1])
			return usage_error("unexpected argument '%s'", a);
		char *name = a + 1 + (a[1] == '-');
		if (!*name) /* "--": end of flags */
			return i + 1 < argc ? usage_error("unexpected argument '%s'", argv[i + 1]) : -1;
		char namebuf[64];
		const char *val = NULL;
		char *eq = strchr(name, '=');
		if (eq) {
			snprintf(namebuf, sizeof(namebuf), "%.*s", (int)(eq - name), name);
			name = namebuf;
			val = eq + 1;
		}
		static const char *const bools[] = {"version", "help", "h", "v", "all-events", "watch",
						    "strict-perms", "no-seccomp", "validate",
						    "list-rules", "json", "journald"};
		bool *bool_dst[] = {&c->version, &c->help, &c->help, &c->verbose, &c->all_events,
				    &c->watch, &c->strict_perms, &c->no_seccomp, &c->validate,
				    &c->list_rules, &c->json, &c->out.journald};
		bool handled = false;
		for (size_t k = 0; k < sizeof(bools) / sizeof(bools[0]); k++) {
			if (strcmp(name, bools[k]))
				continue;
			if (parse_bool(val, bool_dst[k]))
				return usage_error("invalid boolean value for -%s", name);
			handled = true;
		}
		if (handled)
			continue;
		static const char *const valued[] = {"config", "alert-file", "prom-addr", "bpf-object",
						     "replay", "record", "lua-path", "alert-rate-limit",
						     "lua-budget", "lua-max-errors", "lua-memory",
						     "process-table-size", "disable-rule", "disable-tag",
						     "record-types", "record-pid", "record-comm",
						     "record-cgroup", "record-max-size", "syslog",
						     "syslog-facility", "webhook-url", "webhook-header",
						     "webhook-ca-file", "webhook-queue", "webhook-batch",
						     "webhook-flush-ms", "webhook-timeout-ms",
						     "webhook-retries", "webhook-drain-ms"};
		bool known = false;
		for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			known |= !strcmp(name, valued[k]);
		if (!known)
			return usage_error("unknown flag: -%s", name);
		if (!val) {
			if (i + 1 >= argc)
				return usage_error("flag needs a value: -%s", name);
			val = argv[++i];
		}
		if (!strcmp(name, "config")) {
			if (c->nconfigs == MAX_CONFIGS)
				return usage_error("too many -config flags (at most %s)", "256");
			c->configs[c->nconfigs++] = val;
		} else if (!strcmp(name, "disable-rule")) {
			if (!*val)
				return usage_error("-disable-rule needs a rule id%s", "");
			if (c->ndisable_rules == MAX_DISABLE)
				return usage_error("too many -disable-rule flags (at most %s)", "256");
			c->disable_rules[c->ndisable_rules++] = val;
		} else if (!strcmp(name, "disable-tag")) {
			if (!*val)
				return usage_error("-disable-tag needs a tag%s", "");
			if (c->ndisable_tags == MAX_DISABLE)
				return usage_error("too many -disable-tag flags (at most %s)", "256");
			c->disable_tags[c->ndisable_tags++] = val;
		} else if (!strcmp(name, "alert-file")) {
			if (!*val)
				return usage_error("-alert-file needs a path%s", "");
			c->alert_file = val;
		} else if (!strncmp(name, "syslog", 6) || !strncmp(name, "webhook-", 8)) {
			char oerr[512];
			if (eg_outputs_parse_flag(&c->out, name, val, oerr, sizeof(oerr)))
				return usage_error("%s", oerr);
		} else if (!strcmp(name, "prom-addr")) {
			c->prom_addr = val;
			c->prom_addr_set = true;
		} else if (!strcmp(name, "bpf-object")) {
			c->bpf_object = val;
		} else if (!strcmp(name, "replay")) {
			c->replay = val;
		} else if (!strcmp(name, "record")) {
			if (!*val)
				return usage_error("-record needs a path%s", "");
			c->record = val;
		} else if (!strncmp(name, "record-", 7)) {
			int rc = parse_record_flag(c, name, val);
			if (rc >= 0)
				return rc;
		} else if (!strcmp(name, "lua-path")) {
			c->lua_path = val;
		} else if (!strcmp(name, "alert-rate-limit")) {
			if (parse_rate(val, &c->rate_limit))
				return usage_error("invalid -alert-rate-limit '%s': expected N/s with N > 0", val);
		} else if (!strcmp(name, "lua-budget")) {
			char *end;
			errno = 0;
			c->budget = strtoul(val, &end, 10);
			if (errno || *end || !*val || c->budget < 1000 || c->budget > 1000000000ul)
				return usage_error("invalid -lua-budget '%s': expected 1000..1000000000", val);
		} else if (!strcmp(name, "lua-memory")) {
			char *end;
			errno = 0;
			c->mem_mb = strtoul(val, &end, 10);
			if (errno || *end || !*val || *val == '-' || c->mem_mb < 1 || c->mem_mb > 65536)
				return usage_error("invalid -lua-memory '%s': expected 1..65536 (MiB)", val);
		} else if (!strcmp(name, "lua-max-errors")) {
			char *end;
			errno = 0;
			unsigned long n = strtoul(val, &end, 10);
			if (errno || *end || !*val || *val == '-' || n > 1000000000ul)
				return usage_error("invalid -lua-max-errors '%s': expected 0..1000000000", val);
			c->max_errors = n ? (int)n : -1;
		} else if (!strcmp(name, "process-table-size")) {
			char *end;
			errno = 0;
			c->proc_table = strtoul(val, &end, 10);
			if (errno || *end || !*val || *val == '-' || c->proc_table < 64 ||
			    c->proc_table > 4194304ul)
				return usage_error("invalid -process-table-size '%s': expected 64..4194304 processes", val);
		}
	}
	if (c->record_filter_flag && !c->record)
		return usage_error("-%s only applies to -record", c->record_filter_flag);
	char oerr[512];
	if (eg_outputs_check_flags(&c->out, oerr, sizeof(oerr)))
		return usage_error("%s", oerr);
	if (c->json && !c->list_rules)
		return usage_error("-json only applies to -list-rules%s", "");
	if (c->validate && c->list_rules)
		return usage_error("give -validate or -list-rules, not both%s", "");
	return -1;
}

/* Prints msg (problems, one per line) to stderr, each line after
 * "ebpf-guard: ". */
static void print_problems(const char *msg)
{
	while (*msg) {
		size_t l = strcspn(msg, "\n");
		fprintf(stderr, "ebpf-guard: %.*s\n", (int)l, msg);
		msg += l + (msg[l] == '\n');
	}
}

/* Room for every problem of a configuration: see EG_ERR_MAX. */
static char problems[EG_ERR_MAX];

/*
 * -validate and -list-rules: builds the engine from eo exactly as the daemon
 * starts (the same permission check first), prints the summary line or the
 * listing on stdout and returns 0; or prints every problem on stderr and
 * returns 1. Opens no alert file, no metrics server, no BPF.
 */
static int check_config(const struct cli *c, struct eg_engine_opts *eo)
{
	if (eg_check_config_perms(c->configs, c->nconfigs, c->strict_perms, problems,
				  sizeof(problems))) {
		print_problems(problems);
		return 1;
	}
	eo->report = c->validate ? "summary" : c->json ? "json" : "table";
	struct eg_engine *engine = eg_engine_new(eo, problems, sizeof(problems));
	if (!engine) {
		print_problems(problems);
		return 1;
	}
	const char *report = eg_engine_report(engine);
	if (c->validate)
		printf("ebpf-guard: %s\n", report);
	else
		fputs(report, stdout);
	eg_engine_free(engine);
	if (fflush(stdout)) {
		fprintf(stderr, "ebpf-guard: failed to write to stdout: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

/* What the daemon gives up once it runs: see docs/operations.md, "Hardening". */
struct lockdown {
	bool live;    /* the probes are attached; reloads may attach more */
	bool seccomp; /* -no-seccomp clears it */
	bool verbose;
};

/* "perfmon,bpf" for an EG_CAP mask of the capabilities the daemon may keep. */
static void cap_names(uint64_t caps, char *out, size_t n)
{
	static const struct {
		int cap;
		const char *name;
	} names[] = {{CAP_SYS_ADMIN, "sys_admin"}, {CAP_PERFMON, "perfmon"}, {CAP_BPF, "bpf"}};
	out[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (caps & EG_CAP(names[i].cap))
			snprintf(out + strlen(out), n - strlen(out), "%s%s", *out ? "," : "",
				 names[i].name);
	if (!*out)
		snprintf(out, n, "none");
}

/* After the probes are attached (live, with what the collector still needs)
 * or before a replay starts (nothing). */
static int lock_down(void *ctx, uint64_t keep)
{
	const struct lockdown *l = ctx;
	if (eg_caps_limit(keep)) {
		fprintf(stderr, "ebpf-guard: cannot drop capabilities: %s\n", strerror(errno));
		return 1;
	}
	if (eg_no_new_privs()) {
		fprintf(stderr, "ebpf-guard: cannot set no_new_privs: %s\n", strerror(errno));
		return 1;
	}
	size_t nsys = 0;
	char err[512];
	if (l->seccomp && eg_syscall_filter_install(l->live, &nsys, err, sizeof(err))) {
		fprintf(stderr, "ebpf-guard: %s\n", err);
		return 1;
	}
	if (l->verbose) {
		char names[64];
		cap_names(eg_caps_effective(), names, sizeof(names));
		if (l->seccomp)
			fprintf(stderr, "ebpf-guard: capabilities kept: %s; no_new_privs set; "
					"seccomp filter: %zu system calls allowed\n", names, nsys);
		else
			fprintf(stderr, "ebpf-guard: capabilities kept: %s; no_new_privs set; "
					"no seccomp filter (-no-seccomp)\n", names);
	}
	return 0;
}

static void print_version(void)
{
	char pcre[64] = "";
	pcre2_config(PCRE2_CONFIG_VERSION, pcre);
	printf("ebpf-guard %s (%s, libbpf %s, PCRE2 %s)\n", EG_VERSION, LUAJIT_VERSION,
	       libbpf_version_string(), pcre);
}

/* Searches PATH for name with access mode; the full path into out. */
static bool find_in_path(const char *name, int mode, char *out, size_t n)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		return false;
	while (*path) {
		size_t l = strcspn(path, ":");
		snprintf(out, n, "%.*s/%s", (int)l, l ? path : ".", name);
		if (!access(out, mode))
			return true;
		path += l + (path[l] == ':');
	}
	return false;
}

static bool file_exists(const char *path)
{
	return !access(path, R_OK);
}

/*
 * `ebpf-guard test ARGS...`: replaces this process with
 * `luajit <busted> ARGS...`, with LUA_PATH starting with the directory that
 * holds ebpf_guard/testing.lua and EG_ENGINE_LIB naming the engine library
 * (unless set already). Both are found next to this binary in a build tree
 * (<checkout>/build/ebpf-guard: <checkout>/lua, <checkout>/build); the
 * installed locations come with the install step (EG_INSTALL_LUA_DIR,
 * EG_INSTALL_ENGINE_LIB). Returns only on failure, with the exit code.
 */
/* Preloads libebpf-guard-memguard.so, found next to the engine library
 * lib, into busted's luajit (src/memguard.c): specs then get the daemon's
 * -lua-memory limit. Without it they run, unguarded (ebpf_guard.testing
 * reports it as memory_guard = false). */
static void preload_memguard(const char *lib)
{
	char path[PATH_MAX];
	if (!lib || !*lib || snprintf(path, sizeof(path), "%s", lib) >= (int)sizeof(path))
		return;
	char *slash = strrchr(path, '/');
	size_t at = slash ? (size_t)(slash + 1 - path) : 0;
	if (snprintf(path + at, sizeof(path) - at, "libebpf-guard-memguard.so") >= (int)(sizeof(path) - at) ||
	    !file_exists(path))
		return;
	char abs[PATH_MAX];
	if (!realpath(path, abs))
		return;
	const char *old = getenv("LD_PRELOAD");
	size_t len = strlen(abs) + (old ? strlen(old) : 0) + 2;
	char *v = malloc(len);
	if (!v)
		return;
	snprintf(v, len, "%s%s%s", abs, old && *old ? ":" : "", old && *old ? old : "");
	setenv("LD_PRELOAD", v, 1);
	free(v);
}

static int run_tests(int argc, char **argv)
{
	char luajit[PATH_MAX], busted[PATH_MAX], exe[PATH_MAX], dir[PATH_MAX], luadir[PATH_MAX];
	char probe[PATH_MAX + 64];
	if (!find_in_path("luajit", X_OK, luajit, sizeof(luajit))) {
		fprintf(stderr, "ebpf-guard: test: luajit not found in PATH: install the Debian package luajit\n");
		return 1;
	}
	if (!find_in_path("busted", R_OK, busted, sizeof(busted))) {
		fprintf(stderr, "ebpf-guard: test: busted not found in PATH: install the Debian package lua-busted\n");
		return 1;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	snprintf(dir, sizeof(dir), "%s", exe);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0; /* the binary's directory */
	luadir[0] = 0;
	snprintf(probe, sizeof(probe), "%s/../lua/ebpf_guard/testing.lua", dir);
	if (file_exists(probe)) {
		snprintf(probe, sizeof(probe), "%s/../lua", dir);
		if (!realpath(probe, luadir))
			luadir[0] = 0;
	}
#ifdef EG_INSTALL_LUA_DIR
	else if (snprintf(probe, sizeof(probe), "%s/ebpf_guard/testing.lua", EG_INSTALL_LUA_DIR),
		 file_exists(probe))
		snprintf(luadir, sizeof(luadir), "%s", EG_INSTALL_LUA_DIR);
#endif
	if (!luadir[0]) {
		fprintf(stderr, "ebpf-guard: test: cannot find the ebpf_guard.testing module "
				"(looked for %s/../lua/ebpf_guard/testing.lua)\n", dir);
		return 1;
	}
	const char *old = getenv("LUA_PATH");
	size_t len = strlen(luadir) + (old ? strlen(old) : 0) + 16;
	char *lua_path = malloc(len);
	if (!lua_path) {
		fprintf(stderr, "ebpf-guard: test: out of memory\n");
		return 1;
	}
	/* ";;" stands for LuaJIT's default path, where busted's modules are */
	snprintf(lua_path, len, "%s/?.lua;%s", luadir, old ? old : ";");
	setenv("LUA_PATH", lua_path, 1);
	free(lua_path);
	const char *lib = getenv("EG_ENGINE_LIB");
	if (!lib || !*lib) {
		snprintf(probe, sizeof(probe), "%s/libebpf-guard-engine.so", dir);
#ifdef EG_INSTALL_ENGINE_LIB
		if (!file_exists(probe))
			snprintf(probe, sizeof(probe), "%s", EG_INSTALL_ENGINE_LIB);
#endif
		if (file_exists(probe))
			setenv("EG_ENGINE_LIB", probe, 1);
	}
	preload_memguard(getenv("EG_ENGINE_LIB"));
	char **args = calloc((size_t)argc + 2, sizeof(*args));
	if (!args) {
		fprintf(stderr, "ebpf-guard: test: out of memory\n");
		return 1;
	}
	args[0] = luajit;
	args[1] = busted;
	for (int i = 2; i < argc; i++)
		args[i] = argv[i];
	execv(luajit, args);
	fprintf(stderr, "ebpf-guard: test: failed to run %s: %s\n", luajit, strerror(errno));
	free(args);
	return 1;
}

int main(int argc, char **argv)
{
	struct cli c = {.alert_file = "./alerts.jsonl", .out = EG_OUTPUTS_OPTS_INIT};
	if (argc > 1 && !strcmp(argv[1], "test"))
		return run_tests(argc, argv);
	int rc = parse_cli(argc, argv, &c);
	if (rc >= 0)
		return rc;
	if (c.help) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (c.version) {
		print_version();
		return 0;
	}
	struct eg_engine_opts eo = {
		.lua_path = c.lua_path,
		.configs = c.configs,
		.nconfigs = c.nconfigs,
		.budget = (uint32_t)c.budget,
		.max_errors = c.max_errors,
		.mem_limit_mb = (uint32_t)c.mem_mb,
		.disable_rules = c.disable_rules,
		.ndisable_rules = c.ndisable_rules,
		.disable_tags = c.disable_tags,
		.ndisable_tags = c.ndisable_tags,
	};
	if (c.validate || c.list_rules)
		return check_config(&c, &eo);
	struct eg_recfilter *rf = NULL;
	if (c.record_filter_flag && (c.record_types || c.nrecord_pids || c.nrecord_comms ||
				     c.nrecord_cgroups)) {
		char ferr[1024];
		struct eg_recfilter_opts ro = {
			.types = c.record_types,
			.pids = c.record_pids,
			.npids = c.nrecord_pids,
			.comms = c.record_comms,
			.ncomms = c.nrecord_comms,
			.cgroups = c.record_cgroups,
			.ncgroups = c.nrecord_cgroups,
		};
		rf = eg_recfilter_new(&ro, ferr, sizeof(ferr));
		if (!rf)
			return usage_error("%s", ferr);
	}
	if (!c.prom_addr_set)
		c.prom_addr = c.replay ? "" : ":9100";

	eg_metrics_init();
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	char err[2048];
	if (eg_check_config_perms(c.configs, c.nconfigs, c.strict_perms, err, sizeof(err))) {
		fprintf(stderr, "ebpf-guard: %s\n", err);
		eg_recfilter_free(rf);
		return 1;
	}
	struct eg_engine *engine = eg_engine_new(&eo, problems, sizeof(problems));
	if (!engine) {
		print_problems(problems);
		eg_recfilter_free(rf);
		return 1;
	}
	if (!c.nconfigs)
		fprintf(stderr, "ebpf-guard: no -config given: only the built-in heuristics run\n");

	struct eg_alert_sink *sink = eg_alerts_open(c.alert_file, err, sizeof(err));
	if (!sink) {
		fprintf(stderr, "ebpf-guard: %s\n", err);
		eg_engine_free(engine);
		eg_recfilter_free(rf);
		return 1;
	}
	struct eg_outputs *outs = eg_outputs_new(&c.out, err, sizeof(err));
	if (!outs) {
		fprintf(stderr, "ebpf-guard: %s\n", err);
		eg_alerts_close(sink);
		eg_engine_free(engine);
		eg_recfilter_free(rf);
		return 1;
	}
	eg_outputs_attach(outs, sink);
	eg_syscall_filter_allow_network(eg_outputs_need_network(outs));
	struct eg_pipe_opts po = {
		.engine = eo,
		.alerts = sink,
		.record_path = c.record,
		.record_filter = rf,
		.record_max_bytes = (uint64_t)c.record_max_mb << 20,
		.rate_limit = c.rate_limit,
		.watch = c.watch,
		.check_perms = true,
		.strict_perms = c.strict_perms,
	};
	struct eg_pipeline *p = eg_pipe_new(&po, engine, err, sizeof(err));
	if (!p) {
		fprintf(stderr, "ebpf-guard: %s\n", err);
		eg_engine_free(engine);
		eg_outputs_close(outs);
		eg_alerts_close(sink);
		eg_recfilter_free(rf);
		return 1;
	}
	rc = 0;
	if (c.prom_addr && *c.prom_addr && eg_metrics_serve(c.prom_addr, err, sizeof(err))) {
		fprintf(stderr, "ebpf-guard: %s\n", err);
		rc = 1;
		goto out;
	}
	struct lockdown ld = {.live = !c.replay, .seccomp = !c.no_seccomp, .verbose = c.verbose};
	if (c.replay) {
		if (lock_down(&ld, 0)) {
			rc = 1;
			goto out;
		}
		rc = eg_replay_run(p, c.replay, &stop) ? 1 : 0;
	} else {
		struct eg_collector_opts co = {
			.bpf_object = c.bpf_object,
			.verbose = c.verbose,
			.all_events = c.all_events,
			.types_wanted = eg_engine_types_wanted(eg_pipe_engine(p)),
			.proc_table_size = (uint32_t)c.proc_table,
			.on_attached = lock_down,
			.ctx = &ld,
		};
		rc = eg_collector_run(&co, p, &stop);
	}
out:
	eg_pipe_flush(p);
	eg_alerts_set_tap(sink, NULL, NULL);
	eg_outputs_close(outs);
	eg_metrics_stop();
	eg_pipe_free(p);
	eg_alerts_close(sink);
	eg_recfilter_free(rf);
	return rc;
}
