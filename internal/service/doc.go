// Package service holds the operations of hoard's domain, below the HTTP
// layer and above the store: validating requests against the catalogue,
// checking state gates, and writing intent (new status plus a durable task)
// in one transaction. It never does slow work inline; the task runner does.
// It also defines the task steps for each operation and the supervisor that
// reflects observed engine state in instance statuses.
package service
