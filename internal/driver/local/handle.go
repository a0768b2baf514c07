package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hoard-db/hoard/internal/driver"
)

// handleVersion is the version of the handle.json format written now.
const handleVersion = 1

const (
	handleName = "handle.json"
	markerName = "initialized"
)

// handle is what the driver persists about an instance's engine process, so
// that a restarted hoard can re-attach to it (Nomad's TaskHandle).
type handle struct {
	Version int         `json:"version"`
	Engine  string      `json:"engine"`
	Spec    driver.Spec `json:"spec"`
	// Want is the desired state: true from Start until Stop.
	Want bool `json:"want_running"`
	// The last started process; zero when stopped.
	PID       int       `json:"pid,omitempty"`
	StartTime uint64    `json:"start_time,omitempty"` // field 22 of /proc/<pid>/stat
	Exe       string    `json:"exe,omitempty"`        // /proc/<pid>/exe
	StartedAt time.Time `json:"started_at,omitzero"`
}

// decodeHandle parses a handle.json.
func decodeHandle(b []byte) (*handle, error) {
	var h handle
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("while decoding handle: %w", err)
	}
	if h.Version < 1 || h.Version > handleVersion {
		return nil, fmt.Errorf("handle version %d not supported", h.Version)
	}
	if h.PID < 0 {
		return nil, fmt.Errorf("handle has invalid pid %d", h.PID)
	}
	return &h, nil
}

// readHandle returns the handle of instance id, or nil if it has none. A
// handle that cannot be decoded is logged and treated as absent; the next
// write replaces it.
func (d *Driver) readHandle(id string) (*handle, error) {
	path := filepath.Join(d.dir(id), handleName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("while reading handle of instance %s: %w", id, err)
	}
	h, err := decodeHandle(b)
	if err != nil {
		d.log.Warn("ignoring unreadable handle", "instance_id", id, "err", err)
		return nil, nil
	}
	return h, nil
}

// writeHandle persists h for instance id atomically.
func (d *Driver) writeHandle(id string, h *handle) error {
	h.Version = handleVersion
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return fmt.Errorf("while encoding handle of instance %s: %w", id, err)
	}
	b = append(b, '\n')
	if err := d.writePrivateFile(filepath.Join(d.dir(id), handleName), b); err != nil {
		return fmt.Errorf("while writing handle of instance %s: %w", id, err)
	}
	return nil
}
