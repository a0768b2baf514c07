package store

import "context"

// Settings stores values of the whole deployment that are written once and
// then only read, such as the node whose data directory holds the local
// driver's engines.
type Settings interface {
	// InitSetting sets key to value unless key already has a value, and
	// returns the value key has afterwards, in one atomic step: of two
	// callers with different values, both see the first one's.
	InitSetting(ctx context.Context, key, value string) (string, error)
}
