// Package task is hoard's durable task runner. A task is a row in the
// metadata store ([model.Task], [store.Tasks]) describing a long operation
// on an instance (create, restart, delete, ...); a [Runner] claims task rows,
// runs the [Step]s of their [Definition] and records progress, so that any
// hoard process can carry on where a dead one stopped.
//
// # Sections
//
//   - Lifecycle
//   - Leases
//   - Idempotency contract
//   - Errors and retries
//   - Crash semantics
//   - Shutdown
//
// # Lifecycle
//
// The service layer writes a task (state pending, step 0) in the same
// transaction as the instance's new status, then calls [Runner.Notify].
// A worker claims the oldest runnable task (store.Tasks.ClaimTask), looks up
// the [Definition] registered for its kind and runs its steps in order,
// starting at [model.Task.Step]. After each step succeeds the runner records
// it with store.Tasks.AdvanceTask(step+1, payload); when the last step is
// recorded it calls store.Tasks.FinishTask(done). A task whose kind has no
// definition is finished as failed at once.
//
// Steps share state through the task's payload: [Exec.Payload] returns it
// and [Exec.SetPayload] replaces it; the new payload is written in the same
// store call that records the step, so payload and progress never disagree.
//
// # Leases
//
// A claim is a lease: the task belongs to [Config.Owner] until the lease
// ends ([Config.Lease] after the claim, measured on the injected
// [Config.Now] clock). While the task runs, a goroutine renews the lease
// every Lease/3. If the store says the lease is lost (store.ErrLeaseLost,
// because another runner claimed the task after the lease ran out), or the
// lease runs out while renewals fail, the step's context is cancelled with
// cause store.ErrLeaseLost and the runner drops the task without writing
// anything more. Every write the runner makes names its owner, so a runner
// that lost its lease can never overwrite the new owner's progress.
//
// # Idempotency contract
//
// A step may run more than once: when a runner dies or loses its lease after
// the step's effect happened but before its completion was recorded, the
// next runner runs the step again. Every step must therefore check whether
// its effect already exists before acting ("create the volume unless it is
// there") and succeed without acting if it does. The same holds for
// [Definition.OnFailure]. A step must return promptly once its context is
// done.
//
// # Errors and retries
//
// A step error is retried after [Config.Backoff], up to [Config.MaxAttempts]
// attempts of that step (counted in memory, per runner). An error wrapped with
// [Permanent], a panic in the step (recovered; the stack is logged) or the
// last attempt's error fails the task: OnFailure runs (it records the
// failure on the instance, and is itself retried a few times), then the task
// is finished as failed with the error's text. Context cancellation, from
// shutdown or a lost lease, is never retried nor recorded as a failure.
//
// # Crash semantics
//
// A runner that dies (kill -9, power loss) leaves its task running with a
// lease that runs out; another runner then claims it and resumes at the
// first step not recorded as done. A single-node hoard calls
// store.Tasks.ReleaseLeases at start-up instead, so it need not wait for the
// leases of its previous life. [Config.Hook] lets tests simulate a crash at
// every step boundary ([PhaseBefore], [PhaseAfter], [PhaseRecorded]): a Hook
// returning [ErrCrash] makes the runner drop the task with no further store
// write of any kind, not even a lease renewal.
//
// # Shutdown
//
// When the context given to [Runner.Run] is done, workers claim nothing more
// and start no new step. A running step gets [Config.ShutdownGrace] to
// finish (its completion is then recorded); after that its context is
// cancelled. Each task still in hand is handed back with
// store.Tasks.ReleaseTask, so another runner resumes it at once rather than
// after its lease runs out, and Run returns.
//
// Timers (poll interval, back-off, renewal period, shutdown grace) use real
// time; only lease instants come from [Config.Now].
package task
