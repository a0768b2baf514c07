// Package metrics holds hoard's Prometheus registry and collectors, all
// under the namespace "hoard", served at /metrics in the Prometheus text
// format (on the API listener, or on --metrics-listen):
//
//   - hoard_api_requests_total and hoard_api_request_duration_seconds, by
//     method and route (the route's path pattern, identity routes
//     included; "unmatched" for none);
//   - hoard_task_finished_total and hoard_task_duration_seconds by kind and
//     final state, hoard_task_queue_depth by state (pending, running);
//   - hoard_engine_restarts_total by event: engines that exited unasked,
//     which supervision restarts, and those that answer again;
//   - hoard_backup_size_bytes and hoard_backup_duration_seconds by
//     datastore;
//   - read from the store at each scrape: hoard_instances by status and
//     datastore (every known pair present, at zero if none),
//     hoard_instance_volume_size_bytes and _used_bytes per instance, and
//     hoard_replica_lag_seconds per running replica.
//
// The Grafana dashboard and the Prometheus alert rules in deploy/ use these
// names; a test checks them against the registry.
package metrics
