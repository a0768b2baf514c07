package datastore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
)

// errLost is a client library's own "connection lost" error.
var errLost = errors.New("client: connection lost")

// classifying is an engine whose client library says errLost.
type classifying struct{ datastore.Engine }

func (classifying) Unreachable(err error) bool { return errors.Is(err, errLost) }

func TestUnreachable(t *testing.T) {
	tests := []struct {
		name string
		eng  datastore.Engine
		err  error
		want bool
	}{
		{"nil", nil, nil, false},
		{"sentinel", nil, fmt.Errorf("ping: %w", datastore.ErrUnreachable), true},
		{"dial error", nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"refused", nil, fmt.Errorf("x: %w", syscall.ECONNREFUSED), true},
		{"reset", nil, fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{"socket gone", nil, fmt.Errorf("x: %w", syscall.ENOENT), true},
		{"eof", nil, fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"closed", nil, net.ErrClosed, true},
		{"timeout", nil, context.DeadlineExceeded, true},
		{"engine's own, without a classifier", nil, errLost, false},
		{"engine's own, classified", classifying{}, fmt.Errorf("query: %w", errLost), true},
		{"a refusal", classifying{}, errors.New("access denied"), false},
		{"admin lost", classifying{}, datastore.ErrAdminLost, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := datastore.Unreachable(tt.eng, tt.err); got != tt.want {
				t.Errorf("Unreachable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
