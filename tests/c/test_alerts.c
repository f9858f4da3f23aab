/* SPDX-License-Identifier: MIT */
/*
 * The alert sink: 0600 creation, exact JSON and [ALERT] lines, "-" mode, and
 * write faults without root: RLIMIT_FSIZE makes writes past a size fail
 * (a short write, then EFBIG) like a full disk; /dev/full fails every write.
 * Checks whole lines only, the queue, the bound, the counters, the messages,
 * recovery, a removed file and reopen after rotation.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerts.h"
#include "buf.h"
#include "json.h"
#include "metrics.h"
#include "check.h"


static char dir[] = "/tmp/eg_test_alerts.XXXXXX";
static char path[256], cap_path[256];
static char err[512];

static const struct eg_rule_info rule = {
	.id = "test_rule",
	.description = "A test rule",
	.severity = "error",
	.tags_json = "[\"T1059\"]",
	.source = "test",
};

static struct eg_event event(uint32_t pid, const char *filename)
{
	struct eg_event ev = {
		.ts_ns = 1735732800LL * 1000000000LL + pid,
		.type = EG_EV_OPEN,
		.pid = pid,
		.tgid = pid,
		.comm = "bash",
		.comm_len = 4,
		.filename = filename,
		.filename_len = (uint32_t)strlen(filename),
		.exe = "",
		.dest_ip = "",
		.args = "",
	};
	return ev;
}

/* The JSON line the sink must write for event(pid, filename). */
static void expect_line(struct eg_buf *b, uint32_t pid, const char *filename)
{
	struct eg_event ev = event(pid, filename);
	eg_json_alert(b, &ev, &rule, NULL, 0, false, NULL);
}

static char *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	if (!f) {
		*len = 0;
		return calloc(1, 1);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	*len = fread(s, 1, (size_t)n, f);
	s[*len] = 0;
	fclose(f);
	return s;
}

/* Redirects fd to a scratch file until uncapture(). */
static int capture(int fd)
{
	fflush(fd == 1 ? stdout : stderr);
	int saved = dup(fd);
	char f[300];
	snprintf(f, sizeof(f), "%s.%d", cap_path, fd);
	int c = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(c, fd);
	close(c);
	return saved;
}

static char *uncapture(int fd, int saved)
{
	fflush(fd == 1 ? stdout : stderr);
	dup2(saved, fd);
	close(saved);
	size_t n;
	char f[300];
	snprintf(f, sizeof(f), "%s.%d", cap_path, fd);
	return slurp(f, &n);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

#define GET(f) atomic_load(&eg_metrics.f)

static void set_fsize(rlim_t soft)
{
	struct rlimit r;
	getrlimit(RLIMIT_FSIZE, &r);
	r.rlim_cur = soft;
	setrlimit(RLIMIT_FSIZE, &r);
}

static void test_open(void)
{
	unlink(path);
	struct eg_alert_sink *s = eg_alerts_open(path, err, sizeof(err));
	CHECK(s != NULL, "open: %s", err);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode %o", st.st_mode & 0777);
	eg_alerts_close(s);

	s = eg_alerts_open("/nonexistent-dir/alerts.jsonl", err, sizeof(err));
	CHECK(s == NULL && !strcmp(err, "failed to open alert file /nonexistent-dir/alerts.jsonl: "
				      "No such file or directory"),
	      "open error: %s", err);
}

static void test_lines(void)
{
	unlink(path);
	struct eg_alert_sink *s = eg_alerts_open(path, err, sizeof(err));
	struct eg_event a = event(4242, "/dev/shm/.x"), b = event(7, "/tmp/new\nline\x1b[0m");
	int saved = capture(1);
	eg_alerts_add(s, &a, &rule, NULL, 0, false, NULL);
	eg_alerts_add(s, &b, &rule, "dynamic", 7, false, NULL);
	eg_alerts_flush(s);
	char *out = uncapture(1, saved);
	CHECK(!strcmp(out, "[ALERT] rule=test_rule comm=bash filename=/dev/shm/.x pid=4242\n"
			   "[ALERT] rule=test_rule comm=bash filename=/tmp/new\\x0aline\\x1b[0m pid=7\n"),
	      "human lines:\n%s", out);
	free(out);
	struct eg_buf want = {0};
	expect_line(&want, 4242, "/dev/shm/.x");
	eg_json_alert(&want, &b, &rule, "dynamic", 7, false, NULL);
	size_t n;
	char *got = slurp(path, &n);
	CHECK(n == want.len && !memcmp(got, want.p, n), "file:\n%s\nwant:\n%.*s", got, (int)want.len,
	      want.p);
	free(got);
	eg_alerts_close(s);
	eg_buf_free(&want);
}

/* Every byte below 0x20 (NUL included) and DEL, in comm and in filename, is
 * shown as \xNN (lower-case hex) in the [ALERT] line, as docs/output.md says;
 * space, printable ASCII and bytes >= 0x80 are printed as they are. The JSON
 * line keeps DEL as it is and writes the other control bytes as \u00xx. */
static void test_control_bytes(void)
{
	char name[256], comm[16], want[2048];
	size_t n = 0, w = 0;
	name[n++] = '/';
	for (int c = 0; c < 0x20; c++)
		name[n++] = (char)c;
	const char tail[] = "\x7f" " ~\x80\xff" "\x7f";
	memcpy(name + n, tail, sizeof(tail) - 1);
	n += sizeof(tail) - 1;
	memcpy(comm, "a\x7f" "b\x1b" "c\x7f", 6);

	w += (size_t)snprintf(want + w, sizeof(want) - w,
			      "[ALERT] rule=test_rule comm=a\\x7fb\\x1bc\\x7f filename=");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			w += (size_t)snprintf(want + w, sizeof(want) - w, "\\x%02x", c);
		else
			want[w++] = (char)c;
	}
	w += (size_t)snprintf(want + w, sizeof(want) - w, " pid=9\n");

	unlink(path);
	struct eg_alert_sink *s = eg_alerts_open(path, err, sizeof(err));
	struct eg_event ev = event(9, "");
	ev.filename = name;
	ev.filename_len = (uint32_t)n;
	ev.comm = comm;
	ev.comm_len = 6;
	int saved = capture(1);
	eg_alerts_add(s, &ev, &rule, NULL, 0, false, NULL);
	eg_alerts_flush(s);
	char *out = uncapture(1, saved);
	CHECK(strlen(out) == w && !memcmp(out, want, w), "human line:\n%s\nwant:\n%.*s", out,
	      (int)w, want);
	free(out);

	size_t len;
	char *got = slurp(path, &len);
#define HAS_BYTES(lit) (memmem(got, len, lit, sizeof(lit) - 1) != NULL)
	CHECK(HAS_BYTES("\"comm\":\"a\x7f" "b\\u001bc\x7f\","), "JSON comm:\n%s", got);
	CHECK(HAS_BYTES("\"filename\":\"/\\u0000\\u0001\\u0002") &&
		      HAS_BYTES("\\u001e\\u001f\x7f ~\\udc80\\udcff\x7f\","),
	      "JSON filename:\n%s", got);
#undef HAS_BYTES
	eg_alerts_close(s);
	free(got);
}

static void test_stdout_mode(void)
{
	int so = capture(1), se = capture(2);
	struct eg_alert_sink *s = eg_alerts_open("-", err, sizeof(err));
	struct eg_event a = event(1, "/x");
	eg_alerts_add(s, &a, &rule, NULL, 0, false, NULL);
	eg_alerts_flush(s);
	eg_alerts_close(s);
	char *errs = uncapture(2, se);
	char *out = uncapture(1, so);
	struct eg_buf want = {0};
	expect_line(&want, 1, "/x");
	eg_buf_putc(&want, 0);
	CHECK(!strcmp(out, want.p), "stdout mode, stdout:\n%s", out);
	CHECK(!strcmp(errs, "[ALERT] rule=test_rule comm=bash filename=/x pid=1\n"),
	      "stdout mode, stderr:\n%s", errs);
	eg_buf_free(&want);
	free(out);
	free(errs);
}

/* A write that stops in the middle of a line (file size limit), then failures,
 * then recovery: whole lines only, exact counts and messages. The second
 * write is short too (half a line fits), which the sink reports as ENOSPC. */
static void test_fault_and_recovery(void)
{
	unlink(path);
	struct eg_alert_sink *s = eg_alerts_open(path, err, sizeof(err));
	struct eg_buf one = {0}, all = {0};
	expect_line(&one, 1, "/f");
	for (uint32_t i = 1; i <= 5; i++)
		expect_line(&all, i, "/f");
	uint64_t fail0 = GET(alert_write_failures), lost0 = GET(alerts_lost);

	set_fsize(one.len + one.len / 2); /* room for one and a half lines */
	int so = capture(1);
	for (uint32_t i = 1; i <= 5; i++) {
		struct eg_event ev = event(i, "/f");
		eg_alerts_add(s, &ev, &rule, NULL, 0, false, NULL);
	}
	int se = capture(2);
	int rc = 0;
	for (int i = 0; i < 3; i++)
		rc += eg_alerts_flush(s) == -1;
	char *errs = uncapture(2, se);
	free(uncapture(1, so));
	CHECK(rc == 3, "%d of 3 flushes reported the failure", rc);
	size_t n;
	char *got = slurp(path, &n);
	CHECK(n == one.len && !memcmp(got, one.p, n), "after the short write the file holds "
						      "exactly one whole line (%zu bytes)", n);
	free(got);
	CHECK(GET(alerts_queued) == 4, "queued gauge %" PRIu64, GET(alerts_queued));
	CHECK(GET(alert_write_failures) - fail0 == 3, "failures %" PRIu64,
	      GET(alert_write_failures) - fail0);
	char want_msg[512];
	snprintf(want_msg, sizeof(want_msg),
		 "ebpf-guard: cannot write alerts to %s: No space left on device; 4 alerts queued\n",
		 path);
	CHECK(!strcmp(errs, want_msg), "failure log (rate-limited to one):\n%s", errs);
	free(errs);

	set_fsize(RLIM_INFINITY);
	se = capture(2);
	rc = eg_alerts_flush(s);
	errs = uncapture(2, se);
	CHECK(rc == 0, "flush after recovery");
	CHECK(!strcmp(errs, "ebpf-guard: alert file writable again, wrote 4 queued alerts\n"),
	      "recovery log:\n%s", errs);
	free(errs);
	got = slurp(path, &n);
	CHECK(n == all.len && !memcmp(got, all.p, n), "after recovery: all five lines in order");
	free(got);
	CHECK(GET(alerts_queued) == 0 && GET(alerts_lost) == lost0, "gauge 0, nothing lost");
	eg_alerts_close(s);
	eg_buf_free(&one);
	eg_buf_free(&all);
}

/* The bound: past it the newest alerts are dropped and counted; without a
 * failure, reaching the bound only forces an early write. */
static void test_bound(void)
{
	setenv("EG_ALERT_QUEUE_MAX", "3", 1);
	unlink(path);
	struct eg_alert_sink *s = eg_alerts_open(path, err, sizeof(err));
	uint64_t lost0 = GET(alerts_lost);
	int so = capture(1), se;
	for (uint32_t i = 1; i <= 10; i++) {
		struct eg_event ev = event(i, "/ok");
		eg_alerts_add(s, &ev, &rule, NULL, 0, false, NULL);
	}
	eg_alerts_flush(s);
	size_t n;
	char *got = slurp(path, &n);
	CHECK(count(got, "\n") == 10 && GET(alerts_lost) == lost0,
	      "bound without failure: %d lines, lost %" PRIu64, count(got, "\n"),
	      GET(alerts_lost) - lost0);
	free(got);

	truncate(path, 0);
	set_fsize(1); /* nothing fits */
	se = capture(2);
	for (uint32_t i = 1; i <= 3; i++) {
		struct eg_event ev = event(i, "/q");
		eg_alerts_add(s, &ev, &rule, NULL, 0, false, NULL);
	}
	eg_alerts_flush(s);
	for (uint32_t i = 4; i <= 6; i++) {
		struct eg_event ev = event(i, "/q");
		eg_alerts_add(s, &ev, &rule, NULL, 0, false, NULL);
	}
	eg_alerts_flush(s);
	free(uncapture(2, se));
	CHECK(GET(alerts_lost) - lost0 == 3, "lost %" PRIu64, GET(alerts_lost) - lost0);
	CHECK(GET(alerts_queued) == 3, "queued %" PRIu64, GET(alerts_queued));
	set_fsize(RLIM_INFINITY);
	se = capture(2);
	eg_alerts_flush(s);
	free(uncapture(2, se));
	free(uncapture(1, so));
	struct eg_buf want = {0};
	for (uint32_t i = 1; i <= 3; i++)
		expect_line(&want, i, "/q");
	got = slurp(path, &n);
	CHECK(n == want.len && !memcmp(got, want.p, n), "the oldest three are kept:\n%s", got);
	free(got);
	eg_alerts_close(s);
	eg_buf_free(&want);
	unsetenv("EG_ALERT_QUEUE_MAX");
}

static void test_removed_and_reopen(void)
{
	unlink(path);
	struct eg_alert_sink *s = eg_alerts_open(path, err, sizeof(err));
	int so = capture(1);
	struct eg_event a = event(1, "/a"), b = event(2, "/b"), c = event(3, "/c");
	eg_alerts_add(s, &a, &rule, NULL, 0, false, NULL);
	eg_alerts_flush(s);
	unlink(path);
	eg_alerts_add(s, &b, &rule, NULL, 0, false, NULL);
	int se = capture(2);
	eg_alerts_flush(s);
	char *errs = uncapture(2, se);
	char want_msg[512];
	snprintf(want_msg, sizeof(want_msg),
		 "ebpf-guard: alert file %s was removed, created it again\n", path);
	CHECK(!strcmp(errs, want_msg), "removed log: %s", errs);
	free(errs);
	struct eg_buf want = {0};
	expect_line(&want, 2, "/b");
	size_t n;
	char *got = slurp(path, &n);
	struct stat st;
	CHECK(n == want.len && !memcmp(got, want.p, n) && stat(path, &st) == 0 &&
		      (st.st_mode & 0777) == 0600,
	      "recreated file:\n%s", got);
	free(got);

	/* rotation: mv, then reopen; the new alert lands in the new file */
	char rotated[300];
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	rename(path, rotated);
	eg_alerts_add(s, &c, &rule, NULL, 0, false, NULL);
	CHECK(eg_alerts_reopen(s) == 0, "reopen");
	free(uncapture(1, so));
	got = slurp(rotated, &n);
	CHECK(n == want.len && !memcmp(got, want.p, n), "rotated file keeps the old lines");
	free(got);
	want.len = 0;
	expect_line(&want, 3, "/c");
	got = slurp(path, &n);
	CHECK(n == want.len && !memcmp(got, want.p, n), "new file after reopen:\n%s", got);
	free(got);
	unlink(rotated);
	eg_alerts_close(s);
	eg_buf_free(&want);
}

/* /dev/full: every write fails; at close the queued alerts count as lost. */
static void test_dev_full(void)
{
	struct eg_alert_sink *s = eg_alerts_open("/dev/full", err, sizeof(err));
	CHECK(s != NULL, "open /dev/full: %s", err);
	if (!s)
		return;
	uint64_t lost0 = GET(alerts_lost);
	int so = capture(1), se = capture(2);
	struct eg_event a = event(1, "/a");
	eg_alerts_add(s, &a, &rule, NULL, 0, false, NULL);
	eg_alerts_add(s, &a, &rule, NULL, 0, false, NULL);
	eg_alerts_flush(s);
	eg_alerts_close(s);
	char *errs = uncapture(2, se);
	free(uncapture(1, so));
	CHECK(!strcmp(errs, "ebpf-guard: cannot write alerts to /dev/full: No space left on device; "
			    "2 alerts queued\n"
			    "ebpf-guard: 2 queued alerts could not be written to /dev/full\n"),
	      "/dev/full messages:\n%s", errs);
	CHECK(GET(alerts_lost) - lost0 == 2 && GET(alerts_queued) == 0, "lost at close");
	free(errs);
}

int main(void)
{
	signal(SIGXFSZ, SIG_IGN);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/alerts.jsonl", dir);
	snprintf(cap_path, sizeof(cap_path), "%s/captured", dir);
	eg_metrics_init();
	test_open();
	test_lines();
	test_control_bytes();
	test_stdout_mode();
	test_fault_and_recovery();
	test_bound();
	test_removed_and_reopen();
	test_dev_full();
	unlink(path);
	char f[300];
	snprintf(f, sizeof(f), "%s.1", cap_path);
	unlink(f);
	snprintf(f, sizeof(f), "%s.2", cap_path);
	unlink(f);
	rmdir(dir);
	return CHECK_SUMMARY("test_alerts");
}
