// Package local is the driver that runs each instance as a process on this
// host. Every instance gets a directory Root/<id>/ with conf/ (written by
// hoard only), run/ and log/, its data, and a handle.json that records the
// engine process (pid, start time, executable) so that a restarted hoard can
// re-attach to it.
//
// # Volumes
//
// With loop volumes (Config.Volumes, the default as root) the data lives in
// Root/<id>/volume.img, a sparse ext4 image of the instance's volume size,
// loop-mounted at Root/<id>/vol; the engine's data directory is vol/data
// (never the mount point itself, which holds lost+found). A full volume gives
// the engine ENOSPC: MariaDB answers "The table ... is full" (ERROR 1114) and
// keeps serving. The volume is mounted by Provision, before Start and by
// Recover when it is not (after a host reboot), and unmounted by Destroy
// before anything is removed. ResizeVolume grows it offline. Without loop
// volumes, and for instances made before them, the data is in Root/<id>/data
// and the size is not enforced; an instance keeps the layout it was made
// with (whether volume.img exists).
//
// # Processes
//
// Engine processes run in their own session, as direct children of hoard,
// and outlive it. When hoard runs as root, each instance's engine runs as an
// OS user of its own (users.go), so that a tenant running programs or
// reading files through its engine reaches nothing of other instances or
// of hoard; otherwise every engine runs as hoard's user, which the driver
// says at start (IsolatesInstances). Each engine starts in a cgroup of its
// own (package cgroup) with the flavor's RAM as its memory limit, where the
// host allows it. One goroutine per running engine
// (a supervisor) owns the process: it waits for it, restarts it with back-off
// when it dies unasked, and stops it on request. Processes re-attached after
// a hoard restart are not children, so their supervisor polls /proc instead,
// treating a zombie as dead (PID 1 reaps orphans late).
//
// # Logs
//
// Each instance's log/ holds what its engine writes (its error log, the
// guest logs a tenant enables, the driver's capture of its standard error
// in server.log). It is outside the volume, and the supervisor of a
// running engine keeps every file there bounded (logrotate.go:
// Config.MaxLogBytes, one rotated generation).
//
// # Sharing Root
//
// Several Drivers, in several hoard processes (replicas on one host and
// one data directory) or in one, may share Root: any of them can operate
// on any instance. They coordinate through flock locks in Root/.locks,
// which belong to open file descriptions and which the kernel drops when a
// process dies, even by SIGKILL:
//
//   - <id>.op is held briefly around every change to an engine process or
//     its handle.json (Provision, Start, Stop, Restart, Destroy,
//     ResizeVolume, Reconfigure, a supervisor's relaunch), after the
//     in-process instance mutex.
//   - <id>.sup is held by the one supervisor of an engine for its whole
//     life. An operation by a Driver that does not supervise the engine
//     just changes the process and the handle; the supervisor, seeing its
//     process exit, reads the handle under <id>.op: stopped or destroyed,
//     it ends; another live process recorded (a restart elsewhere), it
//     follows that one; else the exit was a crash, reported and repaired.
//   - members is held shared by every Driver: Recover removes directories
//     of instances it does not know only while it holds it exclusively,
//     since another replica may be creating an instance that Recover's
//     list, read earlier, lacks.
//
// Every Driver adopts, every Config.AdoptEvery, the engines that should run
// and whose <id>.sup nobody holds (their supervisor's process died): it
// re-attaches to them, or starts them again if they died too.
package local
