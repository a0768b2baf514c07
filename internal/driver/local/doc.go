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
// Engine processes run as an unprivileged user in their own session, as
// direct children of hoard, and outlive it. One goroutine per running engine
// (a supervisor) owns the process: it waits for it, restarts it with back-off
// when it dies unasked, and stops it on request. Processes re-attached after
// a hoard restart are not children, so their supervisor polls /proc instead,
// treating a zombie as dead (PID 1 reaps orphans late).
package local
