// Package local is the driver that runs each instance as a process on this
// host. Every instance gets a directory Root/<id>/ with conf/ (written by
// hoard only), data/, run/ and log/, and a handle.json that records the
// engine process (pid, start time, executable) so that a restarted hoard can
// re-attach to it.
//
// Engine processes run as an unprivileged user in their own session, as
// direct children of hoard, and outlive it. One goroutine per running engine
// (a supervisor) owns the process: it waits for it, restarts it with back-off
// when it dies unasked, and stops it on request. Processes re-attached after
// a hoard restart are not children, so their supervisor polls /proc instead,
// treating a zombie as dead (PID 1 reaps orphans late).
package local
