// Package enginelog is the engine-independent half of the guest log API
// (reference §16.1): the state of an engine's log file on disk ([Stat],
// bounded reads that follow no symbolic link), the status Trove shows for
// it ([StatusOf]), and its publication into backup storage ([Publisher]):
// the new lines since the last publication, in parts of at most
// [PartBytes] that end at a line end, and a metafile (JSON) recording
// what was published, as Trove's guest agent lays them out in Swift
// ("<container>/<instance>/<engine>-<log>/log-<time>" and
// "<instance>/<engine>-<log>_metafile").
//
// Which logs an engine has, and how they are switched, is the engine's
// (datastore.Logger); reading the files is the service's, through the
// driver's view of an instance's directories.
package enginelog
