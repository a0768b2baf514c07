package model

// Flavor is an instance size. IDs are small integers, as clients expect.
type Flavor struct {
	ID    int
	Name  string
	RAM   int // MB
	VCPUs int
	Disk  int // GB
}

// Datastore is a database engine family offered by the API, such as "mysql".
type Datastore struct {
	ID               string
	Name             string
	DefaultVersionID string
	Versions         []DatastoreVersion
}

// DatastoreVersion is one installed engine version offered under a datastore.
type DatastoreVersion struct {
	ID            string
	DatastoreID   string
	DatastoreName string
	Name          string // short name, e.g. "10.11"
	Version       string // full engine version, e.g. "10.11.19"
	Engine        string // datastore package that runs it, e.g. "mariadb"
	Active        bool
}
