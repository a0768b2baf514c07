package fault

import (
	"errors"
	"fmt"
)

// Kind classifies an error for clients. Values are only ever appended.
type Kind int

// Error kinds. Internal is the zero value: an unclassified error is internal.
const (
	Internal       Kind = iota // unexpected; 500, internals only in the log
	Invalid                    // the request is malformed or has bad values; 400
	Unauthorized               // no or bad credentials; 401
	Forbidden                  // authenticated but not allowed; 403
	NotFound                   // no such resource (or not visible); 404
	BadMethod                  // known path, wrong method; 405
	Conflict                   // conflicts with the resource's state (Trove 409 cases)
	OverLimit                  // rate limit, quota, size limit; 413
	BadMediaType               // unsupported Content-Type; 415
	Unprocessable              // not allowed in the current state; 422
	NotImplemented             // feature or action not supported; 501
	Unavailable                // shutting down or dependency down; 503
)

var kindNames = [...]string{
	Internal:       "internal",
	Invalid:        "invalid",
	Unauthorized:   "unauthorized",
	Forbidden:      "forbidden",
	NotFound:       "not found",
	BadMethod:      "bad method",
	Conflict:       "conflict",
	OverLimit:      "over limit",
	BadMediaType:   "bad media type",
	Unprocessable:  "unprocessable",
	NotImplemented: "not implemented",
	Unavailable:    "unavailable",
}

// String returns a short lower-case name of the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a classified error.
type Error struct {
	Kind Kind
	Op   string // the operation, e.g. "instance.restart"
	Msg  string // public message, safe to show to the client
	// RetryAfter is set on OverLimit errors caused by rate limiting (seconds).
	RetryAfter int
	// Details is an optional public detail (e.g. the rate limit that was hit).
	Details string
	Err     error // the cause; never shown to clients
}

// Error implements error.
func (e *Error) Error() string {
	s := e.Op
	if s != "" {
		s += ": "
	}
	if e.Msg != "" {
		s += e.Msg
	} else {
		s += e.Kind.String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with public message msg.
func New(k Kind, op, msg string) *Error { return &Error{Kind: k, Op: op, Msg: msg} }

// Errorf returns an error of kind k whose public message is formatted.
func Errorf(k Kind, op, format string, args ...any) *Error {
	return &Error{Kind: k, Op: op, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k with public message msg that wraps err.
func Wrap(k Kind, op, msg string, err error) *Error {
	return &Error{Kind: k, Op: op, Msg: msg, Err: err}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Message returns the public message of the first *Error in err's chain, or
// "" if there is none (then nothing about err may be shown to a client).
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return ""
}

// Is reports whether err is classified as kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
