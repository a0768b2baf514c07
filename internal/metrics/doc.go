// Package metrics holds hoard's Prometheus registry and collectors, all
// under the namespace "hoard": API requests and their latency by route,
// finished tasks by kind and outcome, and instances by status, served at
// /metrics in the Prometheus text format.
package metrics
