// Package driver defines where instances run. A Driver turns an instance
// record into a running engine (local processes now, Kubernetes later),
// restarts, stops and destroys it, reports what it observes, and re-attaches
// to engines that outlived a hoard restart.
package driver
