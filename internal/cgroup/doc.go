// Package cgroup gives each engine process of the local driver its own
// cgroup, with a memory limit (from the flavor's RAM) and a CPU weight,
// where the host allows it. What it allows is detected at run time by
// [New]:
//
//   - cgroup v2 with the memory controller: groups Base/<id> with
//     memory.max, memory.swap.max and cpu.weight; a process is started
//     directly into its group with clone3(CLONE_INTO_CGROUP).
//   - cgroup v1 (also the hybrid layout, where v2 is mounted but has no
//     memory controller): groups Base/<id> in the memory and cpu
//     hierarchies with memory.limit_in_bytes, memory.memsw.limit_in_bytes
//     and cpu.shares; a process is started from a thread placed in the
//     group for the fork, so it is in the group from its first
//     instruction too.
//   - neither, or not writable: a no-op [Manager] that says why
//     ([Manager.Available]).
//
// Processes an engine forks inherit its group, so one limit covers a
// PostgreSQL postmaster and its backends, or Redis and its BGSAVE child.
//
// The driver's calls, per instance: [Manager.Prepare] and [Group.Start]
// instead of cmd.Start on every start; [Manager.Prepare] again to apply a
// new flavor to a running engine; [Manager.Contains] after re-attaching to
// an engine, and [Group.Join] if it is not in its group; [Manager.Remove]
// once the engine has exited for good (destroy).
//
// Only files under /sys/fs/cgroup are written (the standard library is
// enough, as for the rest of the driver); nothing here runs systemd, which
// this project's hosts do not have.
package cgroup
