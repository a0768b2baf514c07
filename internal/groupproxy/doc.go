// Package groupproxy gives each HA instance group its stable address: a
// TCP listener for writes that always forwards to the group's current
// source, and one for reads that spreads new connections over its
// replicas (round robin), both limited to the group's ACLs.
//
// It is a layer-4 proxy inside hoard: the service tells it each group's
// route (Set) whenever the group's topology changes, and it applies the
// change at once: connections through the write port to an instance that
// is no longer the source are closed (so no client keeps writing to a
// fenced or ejected source), and while a group has no writable source (a
// failover under way) new write connections wait, bounded, for the next
// one instead of failing at once.
package groupproxy
