package datastore

import "context"

// LogType says whether a tenant can turn a log on and off (reference
// §16.1). The values are Trove's wire strings.
type LogType string

// Log types.
const (
	// LogUser is a log a tenant enables and disables (MariaDB's general
	// query log); it is off until enabled.
	LogUser LogType = "USER"
	// LogSys is a log the engine always writes (its error log); it can
	// only be shown, published and discarded.
	LogSys LogType = "SYS"
)

// LogDef is one log an engine exposes.
type LogDef struct {
	// Name is the log's name in the API, e.g. "general".
	Name string
	Type LogType
	// File is the log file, relative to Spec.LogDir: a plain name.
	File string
	// RestartRequired is set for a USER log that the engine only starts or
	// stops writing at a restart: enabling or disabling it puts the
	// instance in RESTART_REQUIRED.
	RestartRequired bool
}

// Logger is an optional Engine capability: the logs an instance exposes
// through the guest log API (reference §16.1). The enabled USER logs reach
// the engine in Spec.Logs, which the Process recipe renders into the
// server's configuration, so that they stay on across restarts.
//
// The driver bounds every file in Spec.LogDir (it rotates them), so an
// engine's log files never grow without limit; engines must write them
// in append mode (or reopen them per line) so that a file truncated under
// them is written again from its start.
type Logger interface {
	// Logs returns the engine's logs, in the order the API lists them. It
	// is pure and returns the same list every time.
	Logs() []LogDef
	// SetLog turns USER log name on or off in the running server at c at
	// once (for a log that is not RestartRequired); the caller has already
	// rendered the new Spec.Logs, which keep it so after a restart. It is
	// idempotent and must not block past ctx.
	SetLog(ctx context.Context, c Conn, name string, on bool) error
	// LogOn reports whether the running server at c writes USER log name
	// now; an error when the server cannot be asked.
	LogOn(ctx context.Context, c Conn, name string) (bool, error)
}

// FindLog returns the log called name among defs.
func FindLog(defs []LogDef, name string) (LogDef, bool) {
	for _, d := range defs {
		if d.Name == name {
			return d, true
		}
	}
	return LogDef{}, false
}
