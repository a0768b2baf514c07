//go:build !linux

package cgroup

import (
	"errors"
	"os/exec"
)

// errNotLinux is never returned in practice: without /proc, New makes a
// Manager that is not available, whose Groups start with cmd.Start.
var errNotLinux = errors.New("cgroup: cgroups need Linux")

func (g *Group) startV2(*exec.Cmd) error { return errNotLinux }
func (g *Group) startV1(*exec.Cmd) error { return errNotLinux }

// Launcher is Linux's; elsewhere it is always nil.
type Launcher struct{}

// Launch returns nil: there are no cgroups.
func (m *Manager) Launch(string) *Launcher { return nil }

// Close is a no-op.
func (l *Launcher) Close() {}

// StartFrom starts cmd as Start does.
func (g *Group) StartFrom(_ *Launcher, cmd *exec.Cmd) error { return g.Start(cmd) }
