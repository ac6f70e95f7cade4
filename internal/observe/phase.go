package observe

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tfpr/tfpr/internal/metrics"
	"github.com/tfpr/tfpr/internal/runlog"
)

// Each phase of a run (metrics.Phase) is recorded once: observed in
// tfpr_run_phase_seconds and written as one line of the run's log. The
// phases a job goes through before its runs exist (token, fetch, checkout,
// scan, each project's lint) and after they end (report) belong to every
// run the job started, so they are kept with the job and written into each
// run's log; the metric counts them once.

// scope is what a context carries for recording phases: the observer, the
// job (nil outside one) and the run (0 before it exists).
type scope struct {
	o       *Observer
	job     *job
	run     int64
	project string
}

type scopeKey struct{}

func scopeOf(ctx context.Context) *scope {
	s, _ := ctx.Value(scopeKey{}).(*scope)
	return s
}

// job holds a job's phases and the runs whose logs close when it ends.
type job struct {
	mu     sync.Mutex
	phases []timing
	runs   []*jobRun
	ended  bool
}

type timing struct {
	phase   metrics.Phase
	project string // "": the whole job's
	took    time.Duration
}

// jobRun is a run of the job whose log waits for the job's end.
type jobRun struct {
	id      int64
	project string
	seen    int // job phases already in its log
}

// PhaseLine is how a phase appears in a run's log.
func PhaseLine(p metrics.Phase, took time.Duration) string {
	return fmt.Sprintf("tfpr: phase %s took %s", p, took)
}

// Job starts recording the phases of a job under the returned context;
// call EndJob with it when the job is done.
func (o *Observer) Job(ctx context.Context) context.Context {
	if o == nil {
		return ctx
	}
	return context.WithValue(ctx, scopeKey{}, &scope{o: o, job: &job{}})
}

// EndJob writes the job's phases each of its runs has not seen yet into
// its log and closes the log.
func EndJob(ctx context.Context) {
	s := scopeOf(ctx)
	if s == nil || s.job == nil {
		return
	}
	j := s.job
	j.mu.Lock()
	j.ended = true
	runs := j.runs
	j.runs = nil
	j.mu.Unlock()
	for _, r := range runs {
		s.o.writeJobPhases(j, r)
		if s.o.Logs != nil {
			s.o.Logs.Finish(runlog.RunID(r.id))
		}
	}
}

// writeJobPhases appends the job phases r has not seen to its log.
func (o *Observer) writeJobPhases(j *job, r *jobRun) {
	j.mu.Lock()
	var lines []string
	for _, t := range j.phases[r.seen:] {
		if t.project == "" || t.project == r.project {
			lines = append(lines, PhaseLine(t.phase, t.took))
		}
	}
	r.seen = len(j.phases)
	j.mu.Unlock()
	if o.Logs != nil && r.id != 0 {
		o.Logs.Append(runlog.RunID(r.id), lines...)
	}
}

// Time starts timing phase p of the job or run ctx belongs to; call the
// returned function when the phase ends.
func Time(ctx context.Context, p metrics.Phase) func() {
	start := time.Now()
	return func() { Took(ctx, p, time.Since(start)) }
}

// Took records that phase p of the job or run ctx belongs to took d.
// Outside an observed job or run it records nothing.
func Took(ctx context.Context, p metrics.Phase, d time.Duration) {
	s := scopeOf(ctx)
	if s == nil {
		return
	}
	s.o.Metrics.PhaseTook(p, d)
	if s.run != 0 {
		if s.o.Logs != nil {
			s.o.Logs.Append(runlog.RunID(s.run), PhaseLine(p, d))
		}
		return
	}
	if s.job != nil {
		s.job.mu.Lock()
		s.job.phases = append(s.job.phases, timing{phase: p, project: s.project, took: d})
		s.job.mu.Unlock()
	}
}

// enter is ctx scoped to run id of project, inside the job ctx belongs to
// if any. It returns the run's place in the job (nil outside one): its
// log gets the job's phases so far now and closes with the job.
func (o *Observer) enter(ctx context.Context, id int64, project string) (context.Context, *jobRun) {
	parent := scopeOf(ctx)
	s := &scope{o: o, run: id, project: project}
	var jr *jobRun
	if parent != nil && parent.job != nil {
		s.job = parent.job
		if id != 0 {
			jr = &jobRun{id: id, project: project}
			o.writeJobPhases(s.job, jr)
			s.job.mu.Lock()
			if s.job.ended {
				jr = nil
			} else {
				s.job.runs = append(s.job.runs, jr)
			}
			s.job.mu.Unlock()
		}
	}
	return context.WithValue(ctx, scopeKey{}, s), jr
}
