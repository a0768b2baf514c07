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
