// Package fake is an in-memory driver.Driver for tests of the layers above
// the driver (service, task steps): a real implementation of the contract
// that runs no process, with switches to make operations fail.
package fake
