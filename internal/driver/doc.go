// Package driver defines where instances run. A [Driver] turns an instance
// record into a running engine, restarts, stops and destroys it, reports
// what it observes to an [Observer], and re-attaches to engines that
// outlived a hoard restart. Optional capabilities ([Isolation],
// [VolumeResizer], [Addresser], [Readier], [Filesystem]) are found with a
// type assertion.
//
// The implementations are driver/local (processes on this host),
// driver/kubernetes (a StatefulSet per instance) and driver/fake (in
// memory, for tests). Only cmd/hoard picks one.
package driver
