// Package sqlrow holds what the SQL store backends (sqlite, postgres) do
// alike around their different SQL: the state gate's checks, the default
// times of a new row, the JSON columns' encoding, and folding joined rows
// into model values. Each backend keeps its SQL, its driver's scanning and
// its time encoding.
//
// The functions here do no I/O: a backend passes what it read (or a
// function that reads it) and stores what they return.
package sqlrow
