package executor

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// PrintPlan writes a dry run's plan: one line per step with what a real run would do.
func PrintPlan(w io.Writer, r *Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tACTION\tLAST STATUS\tOUTPUT PATH")
	counts := map[Action]int{}
	for _, s := range r.Steps {
		counts[s.Action]++
		last := s.LastStatus
		if last == "" {
			last = StatusUnknown
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Action, last, s.OutputPath)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "plan: %d to run, %d to skip, %d owned by a live executor (would wait), %d failed previously\n",
		counts[ActionRun], counts[ActionSkip], counts[ActionWait], counts[ActionFail])
	if r.ExperimentPath != "" {
		fmt.Fprintf(w, "experiment record: %s\n", r.ExperimentPath)
	}
}

// PrintSummary writes the outcome of a run: step, state, duration, output path.
func PrintSummary(w io.Writer, r *Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tSTATUS\tDURATION\tOUTPUT PATH")
	counts := map[State]int{}
	for _, s := range r.Steps {
		counts[s.State]++
		d := "-"
		if s.Duration() > 0 {
			d = s.Duration().Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.State, d, s.OutputPath)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d succeeded, %d skipped, %d failed, %d not run (dependency failed)",
		counts[StateSucceeded], counts[StateSkipped], counts[StateFailed], counts[StateDepFailed])
	if n := counts[StateInterrupted]; n > 0 {
		fmt.Fprintf(w, ", %d interrupted (the next run reruns them)", n)
	}
	fmt.Fprintf(w, ", %d not reached; %v elapsed\n", counts[StateNotRun], r.Elapsed.Round(time.Millisecond))
	if r.ExperimentPath != "" {
		fmt.Fprintf(w, "experiment record: %s\n", r.ExperimentPath)
	}
}

// State is where a step is in a run.
type State string

// Action is the dry-run plan for a step.
type Action string

// Update is one state change of a step.
type Update struct {
	Step    string
	Output  string
	State   State
	Message string
	Time    time.Time
}

// StepReport is one step's line in a Report.
type StepReport struct {
	Name       string
	FnName     string
	OutputPath string
	Hash       string
	Version    string   // canonical version JSON
	Deps       []string // output paths of blocking dependencies
	Action     Action   // dry run only
	LastStatus Status   // status found before the run (dry run) or after it
	State      State
	Error      string
	Start, End time.Time
}

// Duration is how long the step ran in this run (0 if it did not).
func (s StepReport) Duration() time.Duration {
	if s.Start.IsZero() || s.End.IsZero() {
		return 0
	}
	return s.End.Sub(s.Start)
}

// Report describes a run: the steps of the run set in dependency order.
type Report struct {
	Steps          []StepReport
	ExperimentPath string // the experiment record written
	DryRun         bool
	Elapsed        time.Duration
}
