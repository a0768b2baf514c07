// Package service holds the operations of hoard's domain, below the HTTP
// layer and above the store: validating requests against the catalogue,
// checking state gates, and writing intent (new status plus a durable task)
// in one transaction. It never does slow work inline; the task runner does.
// It also defines the task steps for each operation and the supervisor that
// reflects observed engine state in instance statuses.
//
// # Layout
//
// [Service] implements api.Backend by composing one part per resource, each
// over the same shared dependencies (deps, in deps.go):
//
//   - [Catalog] (catalog.go): flavors, datastores, versions;
//   - [Instances] (instances.go, resize.go, tasks.go, supervise.go): the
//     instance lifecycle, its task steps and the supervision of engines;
//   - [Schema] (users.go): databases, users and root inside an engine;
//   - [Backups] (backups.go, schedules.go): backups, restores, schedules;
//   - [Configurations] (configurations.go, memory.go): configuration groups;
//   - [Quotas] (quotas.go): projects' quotas and limits (the store checks
//     them in the transaction of each write that adds to a project's usage);
//   - replication is part of [Instances] (replicas.go, switchover.go);
//   - [HA] (ha.go, ha_reconcile.go, ha_members.go): HA groups, their
//     reconciler and failover;
//   - [Logs] (logs.go, logs_objects.go): engine logs and their publication.
//
// What they share lives on deps: the clock, an instance's engine, driver
// spec and admin connection (deps.go), catalogue lookups (catalog.go), the
// per-instance gate that orders inline engine operations against actions
// that take the engine away (inline.go), and memory checks (memory.go).
// A part that needs another holds a pointer to it, set by New; no field is
// set later, and the package has no mutable state of its own.
//
// Where things go: a new instance action is an Instances method (request
// in instances.go or resize.go, steps in tasks.go, its task kind in
// Instances.definitions, and a line in testdata/task_steps.golden); when
// members of an HA group must refuse it, a Service method of the same name
// in ha_members.go shadows it. Outside this package it needs a method on
// api.Backend (api/backend.go), its decoder and route in internal/api (and
// a line in api's routeAccess test), and a method on the Backend fakes of
// the api, cli and dashboard tests. A new engine needs nothing here (its
// knowledge stays in internal/datastore).
package service
