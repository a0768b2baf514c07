package datastore

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
)

// ErrUnreachable means that the engine could not be reached, or went away
// in the middle of an operation. Engines may wrap it; Unreachable also
// recognises the network errors every client library returns, and asks
// the engine (UnreachableClassifier) about its client library's own.
var ErrUnreachable = errors.New("datastore: the engine cannot be reached")

// UnreachableClassifier is an optional Engine capability: it recognises the
// errors by which its client library says that a connection failed or was
// lost (database/sql's driver.ErrBadConn for MariaDB), which Unreachable
// does not know of.
type UnreachableClassifier interface {
	Unreachable(err error) bool
}

// Unreachable reports whether err, returned by an operation of engine e,
// shows that the engine could not be reached or went away mid-statement:
// ErrUnreachable, a network error, a refused, reset or closed connection,
// a missing socket, an early end of stream or a timeout, or what e's
// UnreachableClassifier recognises. e may be nil.
func Unreachable(e Engine, err error) bool {
	if err == nil {
		return false
	}
	var ne *net.OpError
	if errors.Is(err, ErrUnreachable) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) {
		return true
	}
	c, ok := e.(UnreachableClassifier)
	return ok && c.Unreachable(err)
}
