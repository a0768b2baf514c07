// Package api is hoard's Cloud Databases v1.0 (OpenStack Trove) HTTP layer.
// It decodes and shape-checks requests, authenticates them, calls a
// [Backend] and renders Trove's JSON shapes and fault bodies. Everything that
// needs the catalogue, the metadata store or an engine lives behind Backend.
//
// # Sections
//
//   - server.go: [Config], [Server], [New], the route table and the
//     JSON 404/405 replacement for ServeMux's plain-text answers.
//   - middleware.go: the chain every request passes, outermost first:
//     request id, panic recovery, access log, draining, body size limit,
//     Content-Type check, authentication and tenant check, rate limit.
//   - fault.go: the one table from [fault.Kind] to HTTP status and Trove fault
//     name, and writeFault, the only place error bodies are written.
//   - ratelimit.go: a per-tenant token bucket on an injected clock.
//   - decode.go: the create, update and action body decoders.
//   - views.go: response shapes (instance, flavor, datastore, links,
//     timestamps without a zone suffix).
//   - versions.go, flavors.go, datastores.go, instances.go: the handlers.
//   - quotas.go, decode_quotas.go: GET /limits and the admin
//     mgmt/quotas routes (an optional [QuotaBackend]).
//
// Handlers return an error; classified errors (package fault) become the
// matching Trove fault, anything else a 500 instanceFault that carries only
// the request id (the error itself is logged).
package api
