// Package runner turns webhook events into terraform runs. It is level
// triggered: webhooks and the periodic resync only enqueue durable jobs;
// the loop expands jobs into per-project runs and executes them with
// bounded parallelism, never two runs of one project at once, applies of a
// project strictly in default-branch order.
//
// # Jobs and runs
//
// A job (kind pr, merge, close or command) and a run (kind plan or apply)
// move through the same states, all kept in the store:
//
//	queued ──► running ──► succeeded
//	   ▲          │    ├──► failed    (an apply also blocks its project)
//	   │          │    ├──► denied    (policy: terraform never ran)
//	   │          │    ├──► waiting   (apply held for `tfpr apply`)
//	   │          │    └──► skipped   (nothing to do)
//	   │          └──────► cancelled  (job stopped by shutdown)
//	   └── interrupted: on start, jobs left running or cancelled are queued
//	       again, and applies left running are queued marked interrupted,
//	       to be re-planned (after releasing their stale state lock)
//	       rather than applied from the reviewed plan.
//
// An apply that fails before terraform ran (GitHub, git or the disk) is
// queued again with backoff, its attempts counted in the store. A failed or
// held apply goes back to queued by `tfpr apply`; a blocked project's
// applies wait until `tfpr unblock`.
//
// # Drift checks
//
// Drift checks are neither jobs nor runs: a schedule per default-branch
// project (due, last check, result, issue) kept in the store, ticked by
// its own loop, which starts a check only while no job is queued or
// running and no apply can start. A reconcile is an apply run like a
// merge's, keyed by the comment that asked for it.
//
// # Files
//
//	deps.go         interfaces of what the runner drives: GitHub, workspace, linter, terraform, state locks
//	config.go       Config: the part of tfpr's settings the runner acts on
//	runner.go       New, the loop: claiming jobs, starting applies, shutdown
//	restart.go      what a restart finds: leftover checkouts, interrupted jobs and applies
//	logging.go      the job- and run-scoped logger
//	observe.go      one observation per lint, plan and apply: metrics, runs-page log, log attributes
//	dispatch.go     webhook events to durable jobs
//	plan.go         PR jobs: lint, plan, save and report every affected project
//	limits.go       the cap on projects per push and the note naming the rest
//	merge.go        merge expansion: which default-branch commits and projects to apply
//	apply.go        one apply: checks, gate, plan choice, terraform apply, retries
//	reviewed.go     choosing the reviewed or a fresh plan; drift comparison and hold
//	plandiff.go     value-by-value comparison of two plans
//	publish.go      posting a round: in-progress and completed check runs, the aggregate check, labels, secrets masked
//	living.go       the living comment: results remembered per PR or merge commit, found by marker, edited or re-posted
//	reply.go        command answers: a reaction plus a reply in the living comment
//	applyreport.go  reporting an apply: check run, comment, failure issue, re-plans of other PRs
//	statelock.go    releasing the state lock an interrupted apply left
//	commands.go     parsing `tfpr ...` comments and one handler per verb; retries and releases
//	approve.go      `tfpr approve`: plan-stage policy overrides bound to the plan seen
//	owners.go       who may release applies: approvers and CODEOWNERS
//	resync.go       the periodic reconciliation, including commands whose webhook was lost
//	env.go          terraform's environment, identity and state prefix
//	worker.go       terraform through `tfpr worker` runs: requests, results, adoption after a restart
//	driftcheck.go           scheduled drift checks: learning the default branch's projects, ticks, one check
//	driftcheck_schedule.go  the schedule's pure decisions: what a tick checks, new projects' spread, issue fate
//	driftcheck_issue.go     a project's one drift issue: rendered, found by its marker, edited, closed
//	reconcile.go            `tfpr apply` on a drift issue (a reconcile through the apply queue), `tfpr drift`
package runner
