// Package clock provides the time hoard replicas agree on: the local clock
// corrected by its offset from a reference clock, the metadata store's.
// Leases (task claims, inline operations) are written by one replica and
// judged by another; with each replica's own clock a skew between hosts
// would shorten or lengthen them by as much.
package clock
