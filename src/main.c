/* SPDX-License-Identifier: MIT */
/* ebpf-guard: command line, signals, and the choice of live or replay mode. */
#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stddef.h>
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
#include "notify.h"
#include "outputs.h"
#include "pipeline.h"
#include "recfilter.h"
#include "replay.h"
#include "response.h"
#include "settings.h"
#include "syscall_filter.h"


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

/* The default -prom-addr when live: loopback only, on a port outside the
 * Prometheus exporters' range 9100-9999 (node_exporter has 9100) and away
 * from other runtime-security tools (Falco 8765, Tetragon 2112, Tracee 3366);
 * docs/metrics.md. */
#define EG_DEFAULT_PROM_ADDR "127.0.0.1:7829"

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
	"  -config-file PATH     settings file (YAML: every flag below as a key, see\n"
	"                        Settings file); default " EG_SETTINGS_DEFAULT ",\n"
	"                        read when it exists; '' reads none\n"
	"  -no-config-file       read no settings file\n"
	"  -alert-file PATH      JSONL alert file, created 0600 (default ./alerts.jsonl;\n"
	"                        with -replay, '-'), its missing directories 0700; never\n"
	"                        opened through a symbolic link or a hard link; '-'\n"
	"                        writes alerts to stdout and the [ALERT] lines to stderr\n"
	"  -prom-addr ADDR       Prometheus metrics address (default " EG_DEFAULT_PROM_ADDR "\n"
	"                        when live, loopback only: ':9100' or '0.0.0.0:7829'\n"
	"                        listens on every interface; off in replay unless\n"
	"                        given); '' disables the server\n"
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
	"  -bpf-object PATH      load the BPF programs from this object instead of the\n"
	"                        embedded one\n"
	"  -replay FILE          read recorded events (JSONL) from FILE ('-' = stdin)\n"
	"                        instead of the kernel, then exit; needs no root.\n"
	"                        Alerts go to stdout unless -alert-file is given\n"
	"  -record FILE          append every event to FILE as JSONL (the -replay format),\n"
	"                        or only those the -record-* filters below let through\n"
	"                        (they combine with AND; a repeated one with OR); in\n"
	"                        replay mode too, to trim a recording\n"
	"  -record-types LIST    only these event types (comma-separated: exec,open,...);\n"
	"                        live, their probes are attached even if no rule wants\n"
	"                        them; repeatable\n"
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
	"  -enforce              carry out the rules' response actions: a rule with\n"
	"                        'action: kill' SIGKILLs the process behind its alert:\n"
	"                        in the kernel for a rule with one path or port test\n"
	"                        (the process never runs again), else from userspace\n"
	"                        (pid 1, kernel threads, ebpf-guard and protect:\n"
	"                        programs never);\n"
	"                        without it the alert says \"enforced\": false (dry run).\n"
	"                        Live mode only; see docs/response.md\n"
	"  -watch                reload the configuration when a -config file changes\n"
	"                        (as SIGHUP does; rule files in -config directories too)\n"
	"  -no-seccomp           run without the system call filter (for debugging: see\n"
	"                        docs/operations.md, Hardening)\n"
	"  -strict-perms         refuse -config files and directories and the settings\n"
	"                        file (and the directories above them) that group or\n"
	"                        others may write, or that are not owned by root; without\n"
	"                        it they are only warned about\n"
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
	"  -validate             load the settings file and the configuration as the\n"
	"                        daemon would (-config, -strict-perms, -disable-rule,\n"
	"                        -disable-tag, -lua-*), print a summary line and exit 0,\n"
	"                        or every problem found and exit 1; needs no root,\n"
	"                        starts nothing\n"
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
	"Settings file: a YAML mapping of flag names without the dash to values,\n"
	"e.g. 'config: [/etc/ebpf-guard/rules]', 'lua-budget: 200000', 'watch: true';\n"
	"a repeatable flag takes a list. A flag on the command line wins over its key\n"
	"(a repeatable one replaces the file's whole list). With -replay, the keys of\n"
	"outputs (alert-file, prom-addr, record, record-*) and enforce are not read\n"
	"from it.\n"
	"-help, -version, -validate, -list-rules, -json, -replay, -config-file and\n"
	"-no-config-file are command-line flags only. EBPF_GUARD_CONFIG_FILE in the\n"
	"environment replaces the default path ('' for none).\n"
	"\n"
	"Signals: SIGHUP reloads the settings file and the configuration and reopens\n"
	"the alert and record files (a changed key that a reload cannot apply is\n"
	"named, and keeps its value until a restart); SIGUSR1 reopens the alert and\n"
	"record files; SIGINT/SIGTERM drain, flush and exit.\n"
	"\n"
	"Exit codes:\n"
	"  0  done: -help, -version, a -validate or -list-rules that found no problem,\n"
	"     a finished replay, a daemon stopped by SIGINT or SIGTERM\n"
	"  1  a problem in the settings file or the configuration, missing privileges\n"
	"     (live mode needs root), a failure at run time (an output that cannot be\n"
	"     opened, BPF), or a replay in which every input line was rejected or a\n"
	"     rule failed on every event it ran on\n"
	"  2  a command-line mistake: unknown flag, missing or invalid value\n"
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
	fprintf(stderr, "\nRun 'ebpf-guard -help' for the flags and the exit codes.\n");
	return 2;
}

#define MAX_LIST 256 /* values of one repeatable flag */

struct strlist {
	const char *v[MAX_LIST];
	size_t n;
};

/* The values in force, from the defaults, the settings file and the command
 * line (settings_apply). Strings point into argv or the settings file read. */
struct cli {
	struct strlist configs, disable_rules, disable_tags, record_comms, record_cgroups;
	const char *alert_file; /* NULL: the mode's default */
	const char *prom_addr;  /* NULL: the mode's default */
	const char *bpf_object, *replay, *record, *lua_path, *config_file;
	uint32_t record_types;
	uint32_t record_pids[MAX_LIST];
	size_t nrecord_pids;
	unsigned long record_max_mb;
	/* where the first -record-* filter was given ("-record-pid", or
	 * "FILE:LINE:COL: record-pid" from the settings file), "" when none */
	char record_filter_flag[PATH_MAX + 96];
	bool record_filter_in_file;
	double rate_limit;
	unsigned long budget;
	int max_errors;
	unsigned long mem_mb;
	unsigned long proc_table;
	struct eg_outputs_opts out; /* -syslog, -journald, -webhook-* */
	bool all_events, verbose, version, help, watch, strict_perms, no_seccomp, enforce;
	bool validate, list_rules, json, no_config_file;
};

struct flag;
/* Stores val into c (val is "true" for a bare boolean flag). name is how the
 * user wrote the flag: "-lua-budget" on the command line, "lua-budget" in the
 * settings file. Returns 0, or -1 with one line in err. */
typedef int (*flag_setter)(struct cli *c, const struct flag *f, const char *name, const char *val,
			   char *err, size_t errlen);

enum flag_kind {
	F_BOOL,  /* -flag, -flag=true|false; a key takes true or false */
	F_VALUE, /* -flag VALUE; a key takes one string */
	F_LIST,  /* repeatable; a key takes a list (or one string) */
};

#define F_CLI_ONLY 1u /* not a settings-file key */
#define F_LIVE 2u     /* a reload (SIGHUP, -watch) applies a change of its key */
#define F_OUTPUT 4u   /* where the daemon writes: with -replay not read from the file */
#define F_RECFILT 8u  /* a -record-* filter: needs -record */
#define F_HOST 16u    /* acts on this host's processes: with -replay not read
		       * from the file, and refused on the command line */

/*
 * The flags, and so the settings file's keys. A new flag is one row here
 * (usually with a generic setter and the offset of its field in struct cli),
 * a field in struct cli and its lines in usage_text.
 */
struct flag {
	const char *name;
	enum flag_kind kind;
	unsigned attrs;
	flag_setter set;
	size_t off;       /* offsetof(struct cli, the field) for the generic setters */
	const char *need; /* set_str and set_list: what an empty value lacks; NULL: '' is fine */
};

#define FIELD(c, f, type) ((type *)((char *)(c) + (f)->off))

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

static int set_bool(struct cli *c, const struct flag *f, const char *name, const char *val,
		    char *err, size_t errlen)
{
	if (parse_bool(val, FIELD(c, f, bool))) {
		snprintf(err, errlen, "invalid boolean value for %s", name);
		return -1;
	}
	return 0;
}

static int set_str(struct cli *c, const struct flag *f, const char *name, const char *val,
		   char *err, size_t errlen)
{
	if (f->need && !*val) {
		snprintf(err, errlen, "%s needs %s", name, f->need);
		return -1;
	}
	*FIELD(c, f, const char *) = val;
	return 0;
}

static int set_list(struct cli *c, const struct flag *f, const char *name, const char *val,
		    char *err, size_t errlen)
{
	struct strlist *l = FIELD(c, f, struct strlist);
	if (f->need && !*val) {
		snprintf(err, errlen, "%s needs %s", name, f->need);
		return -1;
	}
	if (l->n == MAX_LIST) {
		snprintf(err, errlen, "too many %s values (at most %d)", name, MAX_LIST);
		return -1;
	}
	l->v[l->n++] = val;
	return 0;
}

/* An unsigned decimal in lo..hi; no sign, no suffix. */
static int parse_ulong(const char *v, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || *end || !*v || *v == '-' || *v == '+' || *v == ' ' || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

static int set_rate(struct cli *c, const struct flag *f, const char *name, const char *val,
		    char *err, size_t errlen)
{
	(void)f;
	char *end;
	errno = 0;
	double r = strtod(val, &end);
	if (errno || end == val || r <= 0 || !(r < 1e9) || (*end && strcmp(end, "/s"))) {
		snprintf(err, errlen, "invalid %s '%s': expected N/s with N > 0", name, val);
		return -1;
	}
	c->rate_limit = r;
	return 0;
}

static int set_budget(struct cli *c, const struct flag *f, const char *name, const char *val,
		      char *err, size_t errlen)
{
	(void)f;
	if (parse_ulong(val, 1000, 1000000000ul, &c->budget)) {
		snprintf(err, errlen, "invalid %s '%s': expected 1000..1000000000", name, val);
		return -1;
	}
	return 0;
}

static int set_memory(struct cli *c, const struct flag *f, const char *name, const char *val,
		      char *err, size_t errlen)
{
	(void)f;
	if (parse_ulong(val, 1, 65536, &c->mem_mb)) {
		snprintf(err, errlen, "invalid %s '%s': expected 1..65536 (MiB)", name, val);
		return -1;
	}
	return 0;
}

static int set_max_errors(struct cli *c, const struct flag *f, const char *name, const char *val,
			  char *err, size_t errlen)
{
	(void)f;
	unsigned long n;
	if (parse_ulong(val, 0, 1000000000ul, &n)) {
		snprintf(err, errlen, "invalid %s '%s': expected 0..1000000000", name, val);
		return -1;
	}
	c->max_errors = n ? (int)n : -1;
	return 0;
}

static int set_proc_table(struct cli *c, const struct flag *f, const char *name, const char *val,
			  char *err, size_t errlen)
{
	(void)f;
	if (parse_ulong(val, 64, 4194304ul, &c->proc_table)) {
		snprintf(err, errlen, "invalid %s '%s': expected 64..4194304 processes", name, val);
		return -1;
	}
	return 0;
}

static int set_record_types(struct cli *c, const struct flag *f, const char *name, const char *val,
			    char *err, size_t errlen)
{
	(void)f;
	if (!*val) {
		snprintf(err, errlen, "%s needs a comma-separated list of event types", name);
		return -1;
	}
	return eg_recfilter_parse_types(val, &c->record_types, err, errlen) ? -1 : 0;
}

static int set_record_pid(struct cli *c, const struct flag *f, const char *name, const char *val,
			  char *err, size_t errlen)
{
	(void)f;
	unsigned long pid;
	if (parse_ulong(val, 1, UINT32_MAX, &pid)) {
		snprintf(err, errlen, "invalid %s '%s': expected a process id 1..4294967295", name, val);
		return -1;
	}
	if (c->nrecord_pids == MAX_LIST) {
		snprintf(err, errlen, "too many %s values (at most %d)", name, MAX_LIST);
		return -1;
	}
	c->record_pids[c->nrecord_pids++] = (uint32_t)pid;
	return 0;
}

static int set_record_max(struct cli *c, const struct flag *f, const char *name, const char *val,
			  char *err, size_t errlen)
{
	(void)f;
	if (parse_ulong(val, 1, 1048576, &c->record_max_mb)) {
		snprintf(err, errlen, "invalid %s '%s': expected 1..1048576 (MiB)", name, val);
		return -1;
	}
	return 0;
}

/* -record-comm: compiled here too (as recfilter.c does), so that -validate
 * and the settings file's line:column catch a bad one */
static int set_record_comm(struct cli *c, const struct flag *f, const char *name, const char *val,
			   char *err, size_t errlen)
{
	int ec;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)val, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		snprintf(err, errlen, "invalid %s '%s': %s at offset %zu", name, val,
			 (const char *)msg, (size_t)off);
		return -1;
	}
	pcre2_code_free(re);
	return set_list(c, f, name, val, err, errlen);
}

/* -syslog, -syslog-facility, -webhook-*: checked and stored by the outputs
 * (src/outputs.c), whose messages name the flag with its dash. */
static int set_output(struct cli *c, const struct flag *f, const char *name, const char *val,
		      char *err, size_t errlen)
{
	(void)name;
	return eg_outputs_parse_flag(&c->out, f->name, val, err, errlen) ? -1 : 0;
}

#define O(n, kind) {n, kind, F_OUTPUT, set_output, 0, NULL}
#define B(n, field, attrs) {n, F_BOOL, attrs, set_bool, offsetof(struct cli, field), NULL}
#define S(n, field, attrs, need) {n, F_VALUE, attrs, set_str, offsetof(struct cli, field), need}
#define L(n, field, attrs, need) {n, F_LIST, attrs, set_list, offsetof(struct cli, field), need}

static const struct flag flags[] = {
	L("config", configs, F_LIVE, NULL),
	S("config-file", config_file, F_CLI_ONLY, NULL),
	B("no-config-file", no_config_file, F_CLI_ONLY),
	S("alert-file", alert_file, F_OUTPUT, "a path"),
	O("syslog", F_VALUE),
	O("syslog-facility", F_VALUE),
	B("journald", out.journald, F_OUTPUT),
	O("webhook-url", F_VALUE),
	O("webhook-header", F_LIST),
	O("webhook-ca-file", F_VALUE),
	O("webhook-queue", F_VALUE),
	O("webhook-batch", F_VALUE),
	O("webhook-flush-ms", F_VALUE),
	O("webhook-timeout-ms", F_VALUE),
	O("webhook-retries", F_VALUE),
	O("webhook-drain-ms", F_VALUE),
	S("prom-addr", prom_addr, F_OUTPUT, NULL),
	S("bpf-object", bpf_object, 0, NULL),
	S("replay", replay, F_CLI_ONLY, NULL),
	S("record", record, F_OUTPUT, "a path"),
	{"record-types", F_LIST, F_OUTPUT | F_RECFILT, set_record_types, 0, NULL},
	{"record-pid", F_LIST, F_OUTPUT | F_RECFILT, set_record_pid, 0, NULL},
	{"record-comm", F_LIST, F_OUTPUT | F_RECFILT, set_record_comm,
	 offsetof(struct cli, record_comms), "a regular expression"},
	L("record-cgroup", record_cgroups, F_OUTPUT | F_RECFILT, "a cgroup path prefix"),
	{"record-max-size", F_VALUE, F_OUTPUT | F_RECFILT, set_record_max, 0, NULL},
	{"alert-rate-limit", F_VALUE, F_LIVE, set_rate, 0, NULL},
	B("all-events", all_events, 0),
	B("enforce", enforce, F_HOST),
	B("watch", watch, 0),
	B("no-seccomp", no_seccomp, 0),
	B("strict-perms", strict_perms, F_LIVE),
	S("lua-path", lua_path, 0, NULL),
	{"lua-budget", F_VALUE, F_LIVE, set_budget, 0, NULL},
	{"lua-memory", F_VALUE, F_LIVE, set_memory, 0, NULL},
	{"lua-max-errors", F_VALUE, F_LIVE, set_max_errors, 0, NULL},
	{"process-table-size", F_VALUE, 0, set_proc_table, 0, NULL},
	L("disable-rule", disable_rules, F_LIVE, "a rule id"),
	L("disable-tag", disable_tags, F_LIVE, "a tag"),
	B("v", verbose, 0),
	B("validate", validate, F_CLI_ONLY),
	B("list-rules", list_rules, F_CLI_ONLY),
	B("json", json, F_CLI_ONLY),
	B("version", version, F_CLI_ONLY),
	B("help", help, F_CLI_ONLY),
	B("h", help, F_CLI_ONLY),
};

#undef O
#undef B
#undef S
#undef L

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

static const struct flag *find_flag(const char *name)
{
	for (size_t i = 0; i < NFLAGS; i++)
		if (!strcmp(flags[i].name, name))
			return &flags[i];
	return NULL;
}

/* The flag (or, keys_only, the settings key) name most likely meant by an
 * unknown one: the nearest by edit distance (at most 1 for short names, 2
 * for others), else the only flag it is the start of; NULL when none. */
static const char *did_you_mean(const char *name, bool keys_only)
{
	const char *best = NULL, *prefix_of = NULL;
	size_t best_d = strlen(name) < 5 ? 1 : 2, nprefix = 0;
	for (size_t i = 0; i < NFLAGS; i++) {
		const struct flag *f = &flags[i];
		if (strlen(f->name) < 2 || (keys_only && (f->attrs & F_CLI_ONLY)))
			continue;
		size_t d = eg_edit_distance(name, f->name);
		if (d <= best_d && (!best || d < eg_edit_distance(name, best))) {
			best = f->name;
			best_d = d;
		}
		if (*name && !strncmp(f->name, name, strlen(name))) {
			prefix_of = f->name;
			nprefix++;
		}
	}
	return best ? best : nprefix == 1 ? prefix_of : NULL;
}

/* The command line as flags and values, checked for unknown flags and
 * missing values; the values are applied by settings_apply. */
struct cmdline {
	struct arg {
		const struct flag *f;
		const char *val;
	} *args;
	size_t n;
	bool set[NFLAGS]; /* the flag is on the command line */
};

/* Parses argv Go-flag style. Returns -1 when fine, else the exit code. */
static int tokenize(int argc, char **argv, struct cmdline *cl)
{
	cl->args = calloc((size_t)argc + 1, sizeof(*cl->args));
	if (!cl->args) {
		fprintf(stderr, "ebpf-guard: out of memory\n");
		return 1;
	}
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
		const struct flag *f = find_flag(name);
		if (!f) {
			const char *guess = did_you_mean(name, false);
			char msg[256];
			if (guess)
				snprintf(msg, sizeof(msg), "unknown flag -%.64s (did you mean -%s?)", name,
					 guess);
			else
				snprintf(msg, sizeof(msg), "unknown flag -%.64s", name);
			return usage_error("%s", msg);
		}
		if (f->kind == F_BOOL) {
			if (!val)
				val = "true";
		} else if (!val) {
			if (i + 1 >= argc)
				return usage_error("flag needs a value: -%s", name);
			val = argv[++i];
		}
		cl->args[cl->n++] = (struct arg){f, val};
		cl->set[f - flags] = true;
	}
	return -1;
}

/* Keeps where the first -record-* filter was given, for "only applies to
 * -record". */
static void note_record_filter(struct cli *c, const char *where, bool in_file)
{
	if (c->record_filter_flag[0])
		return;
	snprintf(c->record_filter_flag, sizeof(c->record_filter_flag), "%s", where);
	c->record_filter_in_file = in_file;
}

/* Appends one line to buf (whole lines only). */
static void add_line(char *buf, size_t n, const char *line)
{
	size_t used = strlen(buf);
	if (used + strlen(line) + 2 <= n)
		snprintf(buf + used, n - used, "%s%s", used ? "\n" : "", line);
}

/*
 * Applies the settings file's entries to c, except the keys the command line
 * gives (cl) and, with skip_outputs, the outputs' keys. Every problem is one
 * line appended to problems, "FILE:LINE:COL: problem". Returns the number of
 * problems.
 */
static int apply_file(struct cli *c, const struct cmdline *cl, const struct eg_settings *s,
		      bool skip_outputs, char *problems, size_t n)
{
	int bad = 0;
	for (size_t i = 0; s && i < s->n; i++) {
		const struct eg_setting *e = &s->v[i];
		const struct flag *f = find_flag(e->key);
		char at[PATH_MAX + 32], line[PATH_MAX + 1024], why[768];
		snprintf(at, sizeof(at), "%s:%d:%d", s->path, e->line, e->col);
		why[0] = 0;
		if (!f) {
			const char *guess = did_you_mean(e->key, true);
			if (guess)
				snprintf(why, sizeof(why), "unknown key %.200s (did you mean %s?)", e->key,
					 guess);
			else
				snprintf(why, sizeof(why), "unknown key %.200s", e->key);
		} else if (f->attrs & F_CLI_ONLY) {
			snprintf(why, sizeof(why), "%s is a command-line flag, not a setting", f->name);
		}
		if (!why[0] && (cl->set[f - flags] || (skip_outputs && (f->attrs & (F_OUTPUT | F_HOST)))))
			continue;
		if (!why[0]) {
			snprintf(at, sizeof(at), "%s:%d:%d", s->path, e->vline, e->vcol);
			const char *want = f->kind == F_BOOL    ? "true or false"
					   : f->kind == F_VALUE ? "one value"
								: "a list of values";
			if (e->shape == EG_SET_NULL)
				snprintf(why, sizeof(why), "%s has no value (expected %s)", f->name, want);
			else if (e->shape == EG_SET_BAD ||
				 (e->shape == EG_SET_LIST && f->kind != F_LIST))
				snprintf(why, sizeof(why), "%s: expected %s, not a %s", f->name, want,
					 e->shape == EG_SET_LIST ? "list" : "mapping");
			else if (f->kind == F_BOOL && strcmp(e->vals[0], "true") &&
				 strcmp(e->vals[0], "false"))
				snprintf(why, sizeof(why), "%s: expected true or false, not '%.200s'",
					 f->name, e->vals[0]);
		}
		for (size_t k = 0; !why[0] && k < e->nvals; k++) {
			if (f->set(c, f, f->name, e->vals[k], why, sizeof(why)))
				break;
			if (f->attrs & F_RECFILT) {
				char where[PATH_MAX + 96];
				snprintf(where, sizeof(where), "%s:%d:%d: %s", s->path, e->line, e->col,
					 f->name);
				note_record_filter(c, where, true);
			}
		}
		if (why[0]) {
			snprintf(line, sizeof(line), "%s: %s", at, why);
			add_line(problems, n, line);
			bad++;
		}
	}
	if (s && s->problems) { /* keys given twice: after the first one's problems */
		add_line(problems, n, s->problems);
		for (const char *q = s->problems; q; q = strchr(q + 1, '\n'))
			bad++;
	}
	return bad;
}

/*
 * c = the defaults, then the settings file s (NULL: none; with the outputs'
 * keys left out when the command line has -replay), then the command line.
 * Returns -1 when fine; 1 with every problem of the file, one per line, in
 * problems; 2 with the command line's problem in problems.
 */
static int settings_apply(struct cli *c, const struct cmdline *cl, const struct eg_settings *s,
			  char *problems, size_t n)
{
	problems[0] = 0;
	c->out = (struct eg_outputs_opts)EG_OUTPUTS_OPTS_INIT;
	bool replay = cl->set[find_flag("replay") - flags];
	int bad = apply_file(c, cl, s, replay, problems, n);
	for (size_t i = 0; i < cl->n; i++) {
		const struct flag *f = cl->args[i].f;
		char name[80], why[768];
		snprintf(name, sizeof(name), "-%s", f->name);
		if (f->set(c, f, name, cl->args[i].val, why, sizeof(why))) {
			snprintf(problems, n, "%s", why);
			return 2;
		}
		if (f->attrs & F_RECFILT)
			note_record_filter(c, name, false);
	}
	if (c->record_filter_flag[0] && !c->record) {
		if (!c->record_filter_in_file) {
			snprintf(problems, n, "%s only applies to -record", c->record_filter_flag);
			return 2;
		}
		char line[PATH_MAX + 160];
		snprintf(line, sizeof(line), "%s only applies to record", c->record_filter_flag);
		add_line(problems, n, line);
		bad++;
	}
	if (eg_outputs_check_flags(&c->out, problems, n))
		return 2;
	if (replay && c->enforce) {
		snprintf(problems, n, "-enforce does not apply to -replay (a recording's processes are "
				      "not this host's)");
		return 2;
	}
	if (c->json && !c->list_rules) {
		snprintf(problems, n, "-json only applies to -list-rules");
		return 2;
	}
	if (c->validate && c->list_rules) {
		snprintf(problems, n, "give -validate or -list-rules, not both");
		return 2;
	}
	if (cl->set[find_flag("config-file") - flags] && c->no_config_file) {
		snprintf(problems, n, "give -config-file or -no-config-file, not both");
		return 2;
	}
	return bad ? 1 : -1;
}

/* The settings file to read: -config-file, else $EBPF_GUARD_CONFIG_FILE,
 * else the default; NULL for none ('', -no-config-file). *must_exist is
 * false for the default only. */
static const char *settings_path(const struct cmdline *cl, bool *must_exist)
{
	*must_exist = true;
	const char *path = NULL;
	bool given = false;
	for (size_t i = 0; i < cl->n; i++) {
		if (!strcmp(cl->args[i].f->name, "no-config-file")) {
			bool no = false;
			parse_bool(cl->args[i].val, &no);
			if (no)
				return NULL;
		} else if (!strcmp(cl->args[i].f->name, "config-file")) {
			path = cl->args[i].val;
			given = true;
		}
	}
	if (!given && (path = getenv("EBPF_GUARD_CONFIG_FILE")))
		given = true;
	if (!given) {
		*must_exist = false;
		return EG_SETTINGS_DEFAULT;
	}
	return *path ? path : NULL;
}

/* Reads the settings file (none: an empty s). Returns 0, or 1 after printing
 * why. */
static int settings_read(const char *path, bool must_exist, struct eg_settings *s, char *err,
			 size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (!path)
		return 0;
	bool missing;
	if (eg_settings_read(path, s, &missing, err, errlen)) {
		if (missing && !must_exist)
			return 0;
		return 1;
	}
	return 0;
}

static struct eg_engine_opts engine_opts(const struct cli *c)
{
	return (struct eg_engine_opts){
		.lua_path = c->lua_path,
		.configs = c->configs.v,
		.nconfigs = c->configs.n,
		.budget = (uint32_t)c->budget,
		.max_errors = c->max_errors,
		.mem_limit_mb = (uint32_t)c->mem_mb,
		.disable_rules = c->disable_rules.v,
		.ndisable_rules = c->disable_rules.n,
		.disable_tags = c->disable_tags.v,
		.ndisable_tags = c->disable_tags.n,
	};
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
	if (eg_check_config_perms(c->configs.v, c->configs.n, c->strict_perms, problems,
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
	bool enforce; /* -enforce: CAP_KILL is kept, pidfd kills allowed */
};

/* "perfmon,bpf" for an EG_CAP mask of the capabilities the daemon may keep. */
static void cap_names(uint64_t caps, char *out, size_t n)
{
	static const struct {
		int cap;
		const char *name;
	} names[] = {{CAP_SYS_ADMIN, "sys_admin"}, {CAP_PERFMON, "perfmon"}, {CAP_BPF, "bpf"},
		     {CAP_KILL, "kill"}};
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
	/* -enforce: signalling other users' processes needs CAP_KILL */
	if (l->enforce)
		keep |= EG_CAP(CAP_KILL);
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

/*
 * `ebpf-guard test ARGS...`: replaces this process with
 * `luajit <busted> ARGS...`, with LUA_PATH starting with the directory that
 * holds ebpf_guard/testing.lua and EG_ENGINE_LIB naming the engine library
 * (unless set already). Both are found relative to this binary: in a build
 * tree (<checkout>/build/ebpf-guard: <checkout>/lua, <checkout>/build), else
 * where the install step put them (<prefix>/bin/ebpf-guard:
 * EG_REL_LUA_DIR and EG_REL_ENGINE_LIB from there, e.g.
 * <prefix>/share/ebpf-guard/lua and
 * <prefix>/lib/<multiarch>/ebpf-guard/libebpf-guard-engine.so), so an
 * installed tree works wherever it was unpacked. Returns only on failure,
 * with the exit code.
 */
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
#ifdef EG_REL_LUA_DIR
	else if (snprintf(probe, sizeof(probe), "%s/" EG_REL_LUA_DIR "/ebpf_guard/testing.lua", dir),
		 file_exists(probe)) {
		snprintf(probe, sizeof(probe), "%s/" EG_REL_LUA_DIR, dir);
		if (!realpath(probe, luadir))
			luadir[0] = 0;
	}
#else
#define EG_REL_LUA_DIR "../share/ebpf-guard/lua"
#endif
	if (!luadir[0]) {
		fprintf(stderr, "ebpf-guard: test: cannot find the ebpf_guard.testing module "
				"(looked for %s/../lua/ebpf_guard/testing.lua and %s/"
				EG_REL_LUA_DIR "/ebpf_guard/testing.lua)\n", dir, dir);
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
#ifdef EG_REL_ENGINE_LIB
		if (!file_exists(probe))
			snprintf(probe, sizeof(probe), "%s/" EG_REL_ENGINE_LIB, dir);
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

/* The settings in force and the file they came from; a reload's until it
 * is taken. The ones read at start-up are never freed: the alert sink, the
 * record file and the metrics server keep their strings. */
struct daemon_settings {
	const struct cmdline *cl;
	const char *path; /* NULL: none */
	bool must_exist;
	struct eg_settings *file, *boot_file, *pending_file;
	struct cli *cli, *boot_cli, *pending_cli;
};

static void settings_drop(struct daemon_settings *d, struct eg_settings *s, struct cli *c)
{
	if (s && s != d->boot_file) {
		eg_settings_free(s);
		free(s);
	}
	if (c != d->boot_cli)
		free(c);
}

/* Prints "reload failed, keeping ..." and the problems after it. */
static void reload_failed(const char *why)
{
	size_t l = strcspn(why, "\n");
	fprintf(stderr, "ebpf-guard: reload failed, keeping the previous rules and settings: %.*s\n",
		(int)l, why);
	if (why[l])
		print_problems(why + l + 1);
}

/*
 * eg_pipe_opts.reconfigure: reads the settings file again. A key whose value
 * changed takes its new value when a reload can apply it (F_LIVE), and keeps
 * its old one otherwise, with "settings: KEY changed; restart to apply". A
 * file with any problem changes nothing.
 */
static int reconfigure(void *ctx, struct eg_pipe_live *next)
{
	struct daemon_settings *d = ctx;
	struct eg_settings fresh;
	char err[4096];
	if (settings_read(d->path, d->must_exist, &fresh, err, sizeof(err))) {
		reload_failed(err);
		return -1;
	}
	struct eg_settings *m = calloc(1, sizeof(*m));
	struct cli *nc = calloc(1, sizeof(*nc));
	if (!m || !nc || !(m->path = strdup(d->path ? d->path : ""))) {
		reload_failed("out of memory");
		goto fail;
	}
	/* every problem of the new file first */
	if (settings_apply(nc, d->cl, &fresh, problems, sizeof(problems)) >= 0) {
		reload_failed(problems);
		goto fail;
	}
	memset(nc, 0, sizeof(*nc));
	for (size_t i = 0; i < NFLAGS; i++) {
		const struct flag *f = &flags[i];
		if ((f->attrs & F_CLI_ONLY) || d->cl->set[i] ||
		    ((f->attrs & (F_OUTPUT | F_HOST)) && d->cl->set[find_flag("replay") - flags]))
			continue;
		const struct eg_setting *was = eg_settings_get(d->file, f->name);
		const struct eg_setting *now = eg_settings_get(&fresh, f->name);
		const struct eg_setting *take = now;
		if (!eg_setting_same(was, now) && !(f->attrs & F_LIVE)) {
			fprintf(stderr, "ebpf-guard: settings: %s changed; restart to apply\n", f->name);
			take = was;
		}
		if (take && eg_settings_add_copy(m, take)) {
			reload_failed("out of memory");
			goto fail;
		}
	}
	if (settings_apply(nc, d->cl, m, problems, sizeof(problems)) >= 0) {
		reload_failed(problems);
		goto fail;
	}
	if (d->path && eg_check_config_perms(&d->path, 1, nc->strict_perms, err, sizeof(err))) {
		reload_failed(err);
		goto fail;
	}
	eg_settings_free(&fresh);
	struct eg_engine_opts eo = engine_opts(nc);
	eo.log = next->engine.log; /* not settings: kept as they are */
	eo.log_ctx = next->engine.log_ctx;
	next->engine = eo;
	next->rate_limit = nc->rate_limit;
	next->strict_perms = nc->strict_perms;
	d->pending_file = m;
	d->pending_cli = nc;
	return 0;
fail:
	eg_settings_free(&fresh);
	if (m)
		eg_settings_free(m);
	free(m);
	free(nc);
	return -1;
}

/* eg_pipe_opts.reconfigured */
static void reconfigured(void *ctx, bool taken)
{
	struct daemon_settings *d = ctx;
	if (!d->pending_cli)
		return;
	if (taken) {
		settings_drop(d, d->file, d->cli);
		d->file = d->pending_file;
		d->cli = d->pending_cli;
	} else {
		settings_drop(d, d->pending_file, d->pending_cli);
	}
	d->pending_file = NULL;
	d->pending_cli = NULL;
}

/* Live mode attaches BPF programs: root, or CAP_BPF with CAP_PERFMON (or
 * CAP_SYS_ADMIN). Checked before anything is opened or bound. */
static int check_live_privileges(void)
{
	uint64_t caps = eg_caps_effective();
	if ((caps & EG_CAP(CAP_SYS_ADMIN)) ||
	    ((caps & EG_CAP(CAP_BPF)) && (caps & EG_CAP(CAP_PERFMON))))
		return 0;
	/* the collector's own check says the same (docs/collector.md) */
	fprintf(stderr, "ebpf-guard: live mode needs root (or CAP_BPF and CAP_PERFMON): "
			"run it as root, or use -replay FILE\n");
	return 1;
}

/* The directories of an output file that do not exist yet (0700). */
static int make_dirs_for(const char *what, const char *path)
{
	char why[PATH_MAX + 128];
	if (eg_make_parent_dirs(path, why, sizeof(why))) {
		fprintf(stderr, "ebpf-guard: failed to open %s %s: %s\n", what, path, why);
		return 1;
	}
	return 0;
}

/*
 * The daemon (or -validate, -list-rules) with the settings in force
 * (ds->cli). Returns the exit code.
 */
static int run(struct daemon_settings *ds)
{
	int rc;
	struct cli c = *ds->cli;
	if (ds->path && ds->file->path &&
	    eg_check_config_perms(&ds->path, 1, c.strict_perms, problems, sizeof(problems))) {
		print_problems(problems);
		return 1;
	}
	struct eg_engine_opts eo = engine_opts(&c);
	if (c.validate || c.list_rules)
		return check_config(&c, &eo);
	if (!c.replay && check_live_privileges())
		return 1;
	if (!c.alert_file)
		c.alert_file = c.replay ? "-" : "./alerts.jsonl";
	if (!c.prom_addr)
		c.prom_addr = c.replay ? "" : EG_DEFAULT_PROM_ADDR;
	struct eg_recfilter *rf = NULL;
	if (c.record_filter_flag[0] && (c.record_types || c.nrecord_pids || c.record_comms.n ||
					c.record_cgroups.n)) {
		char ferr[1024];
		struct eg_recfilter_opts ro = {
			.types = c.record_types,
			.pids = c.record_pids,
			.npids = c.nrecord_pids,
			.comms = c.record_comms.v,
			.ncomms = c.record_comms.n,
			.cgroups = c.record_cgroups.v,
			.ncgroups = c.record_cgroups.n,
		};
		rf = eg_recfilter_new(&ro, ferr, sizeof(ferr));
		if (!rf) { /* out of memory: the values were checked */
			fprintf(stderr, "ebpf-guard: %s\n", ferr);
			return 1;
		}
	}

	eg_metrics_init();
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	char err[2048];
	if (eg_check_config_perms(c.configs.v, c.configs.n, c.strict_perms, err, sizeof(err))) {
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
	if (!c.configs.n)
		fprintf(stderr, "ebpf-guard: no -config given: only the built-in heuristics run\n");

	if ((strcmp(c.alert_file, "-") && make_dirs_for("alert file", c.alert_file)) ||
	    (c.record && make_dirs_for("record file", c.record))) {
		eg_engine_free(engine);
		eg_recfilter_free(rf);
		return 1;
	}
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
	/* -enforce (live mode only: settings_apply refuses it with -replay) */
	struct eg_response *resp = NULL;
	if (c.enforce && !c.replay) {
		struct eg_response_opts ro = {0};
		if (!(resp = eg_response_new(&ro, err, sizeof(err)))) {
			fprintf(stderr, "ebpf-guard: %s\n", err);
			eg_outputs_close(outs);
			eg_alerts_close(sink);
			eg_engine_free(engine);
			eg_recfilter_free(rf);
			return 1;
		}
		eg_syscall_filter_allow_kill(true);
		if (!(eg_caps_effective() & EG_CAP(CAP_KILL)))
			fprintf(stderr, "ebpf-guard: warning: -enforce without CAP_KILL: only processes "
					"of uid %u can be killed\n", (unsigned)geteuid());
	} else if (!c.replay) {
		size_t kills = 0;
		for (size_t i = 0; i < eg_engine_nrules(engine); i++)
			kills += eg_engine_rule(engine, i)->action == EG_ACTION_KILL;
		if (kills)
			fprintf(stderr, "ebpf-guard: %zu rule%s with action kill, not enforced (dry run: "
					"no -enforce)\n", kills, kills == 1 ? "" : "s");
	}
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
		.reconfigure = reconfigure,
		.reconfigured = reconfigured,
		.reconfigure_ctx = ds,
		.response = resp,
	};
	struct eg_pipeline *p = eg_pipe_new(&po, engine, err, sizeof(err));
	if (!p) {
		fprintf(stderr, "ebpf-guard: %s\n", err);
		eg_engine_free(engine);
		eg_outputs_close(outs);
		eg_alerts_close(sink);
		eg_recfilter_free(rf);
		eg_response_free(resp);
		return 1;
	}
	rc = 0;
	if (*c.prom_addr && eg_metrics_serve(c.prom_addr, err, sizeof(err))) {
		fprintf(stderr, "ebpf-guard: %s\n", err);
		rc = 1;
		goto out;
	}
	struct lockdown ld = {.live = !c.replay, .seccomp = !c.no_seccomp, .verbose = c.verbose,
			      .enforce = resp != NULL};
	if (c.replay) {
		if (lock_down(&ld, 0)) {
			rc = 1;
			goto out;
		}
		rc = eg_replay_run(p, c.replay, &stop) ? 1 : 0;
	} else {
		eg_notify_init();
		uint32_t never[65];
		struct eg_collector_opts co = {
			.bpf_object = c.bpf_object,
			.verbose = c.verbose,
			.all_events = c.all_events,
			.recording = c.record != NULL,
			.types_wanted = eg_engine_types_wanted(eg_pipe_engine(p)),
			.proc_table_size = (uint32_t)c.proc_table,
			.enforce = resp != NULL,
			.never = never,
			.nnever = resp ? eg_response_never(resp, never, sizeof(never) / sizeof(never[0])) : 0,
			.on_attached = lock_down,
			.ctx = &ld,
			.on_state = eg_notify_state,
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
	eg_response_free(resp);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "test"))
		return run_tests(argc, argv);
	static struct cmdline cl;
	int rc = tokenize(argc, argv, &cl);
	if (rc >= 0)
		return rc;
	struct cli *cp = calloc(1, sizeof(*cp));
	struct eg_settings *file = calloc(1, sizeof(*file));
	static struct daemon_settings ds;
	if (!cp || !file) {
		fprintf(stderr, "ebpf-guard: out of memory\n");
		rc = 1;
		goto out;
	}
	struct cli c_help = {0};
	/* -help and -version read no settings file: a broken one does not hide them */
	for (size_t i = 0; i < cl.n; i++)
		if (cl.args[i].f->set == set_bool && (cl.args[i].f->attrs & F_CLI_ONLY))
			cl.args[i].f->set(&c_help, cl.args[i].f, "", cl.args[i].val, problems,
					  sizeof(problems));
	if (c_help.help || c_help.version) {
		if (c_help.help)
			fputs(usage_text, stdout);
		else
			print_version();
		rc = 0;
		goto out;
	}
	ds.cl = &cl;
	ds.path = settings_path(&cl, &ds.must_exist);
	if (settings_read(ds.path, ds.must_exist, file, problems, sizeof(problems))) {
		print_problems(problems);
		rc = 1;
		goto out;
	}
	rc = settings_apply(cp, &cl, file, problems, sizeof(problems));
	if (rc == 2) {
		usage_error("%s", problems);
		goto out;
	}
	if (rc == 1) {
		print_problems(problems);
		goto out;
	}
	ds.file = ds.boot_file = file;
	ds.cli = ds.boot_cli = cp;
	rc = run(&ds);
out:
	settings_drop(&ds, ds.file, ds.cli); /* a reload's (pending ones may still be read) */
	eg_settings_free(file);
	free(file);
	free(cp);
	free(cl.args);
	return rc;
}
