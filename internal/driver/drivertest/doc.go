// Package drivertest is the contract suite of driver.Driver: every
// implementation (the local driver, the Kubernetes driver, driver/fake)
// runs it from a test of its own package, and a new driver is done when it
// passes.
//
// It is written in the style of testing/slogtest: a table of cases, each
// with an explanation of the rule it checks; a case reports every
// violation it finds (errors.Join), not only the first. [Run] drives one
// instance through its life (provision, start, ready, restart, crash,
// re-attach by a new Driver, volume resize, stop, destroy), calling each
// step twice to check it is idempotent, and runs a few cases of their own
// (orphans, unknown instances).
//
// The [Harness] says how to make drivers and instance specs and how to
// observe what the contract alone cannot tell (which engine process runs,
// how large a volume is). A case that needs what the implementation does
// not have (a real engine that answers, a process that can crash, an
// optional capability such as driver.VolumeResizer) is skipped with the
// reason, never passed silently.
package drivertest
