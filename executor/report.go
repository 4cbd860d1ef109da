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
