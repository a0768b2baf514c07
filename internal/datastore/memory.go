package datastore

// MemoryUse is memory that a configuration commits, in one piece that must
// fit in the flavor's RAM on its own: for example the buffers a server
// allocates at start-up plus those one connection may allocate.
type MemoryUse struct {
	// What names the settings counted and their sizes in the engine's
	// own notation, as a refusal shows it: "innodb_buffer_pool_size 100G",
	// "shared_buffers 128MB + work_mem 1GB".
	What string
	// Bytes is the memory counted. It is a float64 because settings reach
	// 2^64-1 bytes and add up beyond any integer type.
	Bytes float64
}

// MemorySizer is an optional Engine capability, beside [Configurable]: how
// much memory a configuration group's values commit on a flavor, so that
// the service refuses values too big for an instance's RAM (a group of a
// 100 GB buffer pool on a 512 MB flavor) instead of an engine that does
// not start or is killed by the OOM killer.
type MemorySizer interface {
	// MemoryUse returns the memory uses that values (a group's canonical
	// values by parameter name, see Configurable) commit on a flavor with
	// ramMB MB of RAM. The service refuses values of which one use has
	// more Bytes than the RAM. Where values leave a setting of a use out,
	// the engine counts its own setting for ramMB (see
	// Configurable.Defaults). Only uses that involve at least one of
	// values are returned, so that the engine's defaults alone are never
	// refused; nil when values size no memory. A value the engine cannot
	// parse counts nothing. It is pure, cheap and safe for concurrent use.
	MemoryUse(values map[string]string, ramMB int) []MemoryUse
}
