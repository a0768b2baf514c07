package model

import "time"

// Configuration is a configuration group (API reference §14): named engine
// parameter values for one datastore version, owned by a tenant, that
// instances of that version may attach.
type Configuration struct {
	ID          string
	TenantID    string
	Name        string
	Description string // "" shows as null

	Datastore          string // datastore type name, e.g. "mysql"
	DatastoreVersion   string // version name, e.g. "10.11"
	DatastoreVersionID string

	// Values are the parameter values in canonical string form, by
	// lower-case parameter name: integers and floats in decimal, booleans
	// "true"/"false", strings as given.
	Values map[string]string

	Created time.Time
	Updated time.Time
}
