package datastore

import "context"

// ParamType is the data type of a configuration parameter, as the API
// shows it (reference §14.2).
type ParamType string

// Parameter types.
const (
	ParamString  ParamType = "string"
	ParamInteger ParamType = "integer"
	ParamFloat   ParamType = "float"
	ParamBoolean ParamType = "boolean"
)

// Parameter is one entry of an engine version's configuration parameter
// catalogue.
type Parameter struct {
	Name string    `json:"name"` // lower case, as in the engine's config file
	Type ParamType `json:"type"`
	// Min and Max bound numeric parameters, in decimal; "" when unbounded.
	// They are strings because engine bounds (2^64-1) exceed float64.
	Min string `json:"min,omitempty"`
	Max string `json:"max,omitempty"`
	// RestartRequired is true when the engine only reads the parameter at
	// start-up.
	RestartRequired bool `json:"restart_required"`
	// Allowed lists the accepted values of an enumerated string parameter
	// (compared case-insensitively); empty means any safe string.
	Allowed []string `json:"allowed,omitempty"`
	// Set marks a string parameter whose value is a comma-separated subset
	// of Allowed (MariaDB's sql_mode).
	Set bool `json:"set,omitempty"`
}

// Configurable is an optional Engine capability: configuration groups
// (reference §14). Values reach an engine in canonical string form, by
// lower-case parameter name: integers and floats in decimal, booleans
// "true" or "false", strings as given (already checked against the
// catalogue, and limited to letters, digits and _,.:/+- by the service).
// The Process recipe renders Spec.Config into the engine's configuration,
// after its own settings, so group values survive restarts.
type Configurable interface {
	// Parameters returns the catalogue of the installed engine version:
	// the parameters a group may set, with types, bounds and whether they
	// need a restart, as the engine itself reports them. It may be slow
	// (it can start a throwaway server); callers cache the result.
	Parameters(ctx context.Context) ([]Parameter, error)
	// ApplyDynamic sets values on the running server at c at once (SET
	// GLOBAL and the like). Only parameters that need no restart are given.
	ApplyDynamic(ctx context.Context, c Conn, values map[string]string) error
	// Defaults returns the settings the recipe renders for spec without a
	// group (canonical strings by parameter name): the base of an
	// instance's effective configuration (reference §8.8).
	Defaults(spec Spec) map[string]string
}
