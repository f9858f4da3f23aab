/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpf(2), reported at system call exit (from the sys_exit program): the
 * commands that load or attach something (map_create, prog_load,
 * raw_tracepoint_open, link_create), with the program or map type and the
 * object's name; every other command (lookups, updates, id walks: most of
 * bpf()'s traffic) returns before a record is started. See
 * docs/collector.md. Included by ebpf_guard.bpf.c after bpf/fam.h.
 *
 * a[0] the command, a[1] the program type, a[2] the map type, S2 the name
 * (at most 15 bytes and a NUL, BPF_OBJ_NAME_LEN).
 */
#ifndef EG_FAM_BPF_H
#define EG_FAM_BPF_H

#define ANON_INODE_FS_MAGIC 0x09041934
#define BPF_NAME_LEN 16 /* BPF_OBJ_NAME_LEN */

/* The names anon_inode_getfile() gives bpf's descriptors' files, as a
 * little-endian u64 of their first 8 bytes ("bpf-map" with its NUL). */
#define BPF_FILE_PROG 0x676f72702d667062ULL /* "bpf-prog" */
#define BPF_FILE_LINK 0x6b6e696c5f667062ULL /* "bpf_link" */
#define BPF_FILE_MAP 0x0070616d2d667062ULL  /* "bpf-map\0" */

/*
 * The kernel's own object behind descriptor fd: a program (its type and
 * name), a link (its program's), a map (its type and name). The name goes to
 * S2. false when fd is none of these: a descriptor replaced by another
 * thread since, a failed call's bad fd.
 */
static __always_inline bool bpf_fd_object(struct eg_raw_event *e, struct task_struct *task, long fd)
{
	struct file *f = fd_file(task, fd);
	struct eg_raw_args *a = fam_args(e);
	char *name = (char *)e + FAM_OFF0;
	char dn[BPF_NAME_LEN] = {};
	struct bpf_prog_aux *aux;
	struct bpf_prog *prog;
	struct bpf_map *map;
	void *priv;
	__u64 kind;

	if (!f || BPF_CORE_READ(f, f_inode, i_sb, s_magic) != ANON_INODE_FS_MAGIC)
		return false;
	bpf_probe_read_kernel_str(dn, sizeof(dn), BPF_CORE_READ(f, f_path.dentry, d_name.name));
	__builtin_memcpy(&kind, dn, sizeof(kind));
	priv = BPF_CORE_READ(f, private_data);
	if (!priv)
		return false;
	if (kind == BPF_FILE_MAP) {
		map = priv;
		a->a[2] = BPF_CORE_READ(map, map_type);
		bpf_probe_read_kernel_str(name, BPF_NAME_LEN, &map->name);
	} else if ((kind == BPF_FILE_PROG || kind == BPF_FILE_LINK) && !dn[8]) {
		prog = kind == BPF_FILE_LINK ? BPF_CORE_READ((struct bpf_link *)priv, prog) : priv;
		if (!prog)
			return false; /* a struct_ops link: no program */
		aux = BPF_CORE_READ(prog, aux);
		a->a[1] = BPF_CORE_READ(prog, type);
		bpf_probe_read_kernel_str(name, BPF_NAME_LEN, &aux->name);
	} else {
		return false;
	}
	name[BPF_NAME_LEN] = 0;
	e->args_len = BPF_NAME_LEN + 1;
	return true;
}

/*
 * What the caller asked for, from its union bpf_attr: the type (the first
 * u32 of both map_create's and prog_load's members) and the name at
 * name_off, as far as size covers them (the kernel reads zeros past size).
 */
static __always_inline void bpf_attr_object(struct eg_raw_event *e, __u64 uattr, __u32 size,
					    __u32 name_off, bool prog)
{
	struct eg_raw_args *a = fam_args(e);
	char *name = (char *)e + FAM_OFF0;
	__u32 type = 0, n = 0;

	if (size >= sizeof(type) &&
	    !bpf_probe_read_user(&type, sizeof(type), (const void *)uattr)) {
		if (prog)
			a->a[1] = type;
		else
			a->a[2] = type;
	}
	if (size > name_off)
		n = size - name_off;
	if (n > BPF_NAME_LEN)
		n = BPF_NAME_LEN;
	__builtin_memset(name, 0, BPF_NAME_LEN + 1);
	if (n && bpf_probe_read_user(name, n, (const void *)(uattr + name_off)))
		return;
	/* the kernel refuses a name without a NUL in 16 bytes: ours ends anyway */
	e->args_len = BPF_NAME_LEN + 1;
}

static __always_inline void fam_bpf(const struct sc *s)
{
	int cmd = (int)s->a[0];
	__u64 uattr = s->a[1];
	__u32 size = (__u32)s->a[2], fd = 0, off = 0;
	struct eg_raw_event *e;
	struct eg_raw_args *a;

	switch (cmd) {
	case BPF_MAP_CREATE:
	case BPF_PROG_LOAD:
	case BPF_RAW_TRACEPOINT_OPEN:
	case BPF_LINK_CREATE:
		break;
	default:
		return;
	}
	e = fam_begin(EG_RAW_BPF, s);
	if (!e)
		return;
	a = fam_args(e);
	a->a[0] = cmd;
	a->a[7] = 0; /* bpf events carry no "call" */
	/* a success is described from the kernel's object behind the new
	 * descriptor (program, map or link): the attr in user memory may have
	 * been rewritten by another thread while the verifier ran */
	if (s->ret >= 0 && bpf_fd_object(e, s->task, s->ret))
		goto out;
	switch (cmd) {
	case BPF_MAP_CREATE:
		bpf_attr_object(e, uattr, size, offsetof(union bpf_attr, map_name), false);
		break;
	case BPF_PROG_LOAD:
		bpf_attr_object(e, uattr, size, offsetof(union bpf_attr, prog_name), true);
		break;
	default:
		/* a failed attach: the program it named (link_create's prog_fd,
		 * or a struct_ops link's map_fd, comes first in its member) */
		if (cmd == BPF_RAW_TRACEPOINT_OPEN)
			off = offsetof(union bpf_attr, raw_tracepoint.prog_fd);
		if (size >= off + sizeof(fd) &&
		    !bpf_probe_read_user(&fd, sizeof(fd), (const void *)(uattr + off)))
			bpf_fd_object(e, s->task, (int)fd);
		break;
	}
out:
	kk_code_call(e, s->task, (__u32)cmd);
	fam_submit(e, FAM_OFF0 + e->args_len);
}

#endif
