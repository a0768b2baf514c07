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
// The service layer writes a task (state pending, step 0, no step name) in
// the same transaction as the instance's new status, then calls
// [Runner.Notify]. A worker claims the oldest runnable task
// (store.Tasks.ClaimTask), looks up the [Definition] registered for its kind
// and runs its steps in order, starting at the step named by
// [model.Task.StepName] (see Crash semantics). After each step succeeds the
// runner records the next step, by index and by name, with
// store.Tasks.AdvanceTask(step+1, name, payload); after the last step the
// name recorded is [EndOfSteps], and the runner calls
// store.Tasks.FinishTask(done). A task whose kind has no definition is
// finished as failed at once, with an error naming the kind (and the
// recorded step); having no definition, it has no OnFailure to run.
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
// The runner that resumes a task may run another hoard release than the one
// that recorded it (an upgrade, or replicas of different versions sharing a
// store), whose step list for the kind differs. So progress is recorded by
// step name: the runner resumes at the step of the recorded name, wherever
// it is in its own list (a step inserted before it is skipped for this task,
// one inserted after it runs), and records its own index with the next
// name. A task recorded before step names (an empty name) resumes at its
// recorded index, as it did then. A task whose recorded name is not a step
// of its kind is refused: the runner runs no step, OnFailure runs (so the
// instance leaves its transitional status) and the task is finished as
// failed with an error naming the kind and the step. Hence a step keeps its
// name across releases; renaming or removing one is an incompatible change.
// The step lists of hoard's task kinds are pinned by a golden file in the
// service tests (testdata/task_steps.golden), so that a change to one is a
// reviewed act.
// A runner of a release before step names that is still running when the
// store is upgraded (it cannot start on the new schema) advances the index
// only, leaving a stale name behind; a newer runner then resumes at that
// earlier step and repeats steps already done, which the idempotency
// contract makes safe.
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
