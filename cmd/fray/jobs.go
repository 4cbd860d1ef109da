package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fray-go/fray/internal/rayapi"
)

// JobError reports that a job ended without succeeding.
type JobError struct {
	ID       string
	Status   string // STOPPED or FAILED
	Message  string // Ray's message
	ExitCode *int   // the driver's exit status, when Ray knows it
}

func (e *JobError) Error() string {
	s := fmt.Sprintf("job %s %s", e.ID, strings.ToLower(e.Status))
	if e.ExitCode != nil {
		s += fmt.Sprintf(" (driver exit status %d)", *e.ExitCode)
	}
	if e.Message != "" {
		s += ": " + firstLine(e.Message)
	}
	return s + "; its output: fray jobs logs " + e.ID
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// pollInterval is how often job status and logs are polled while following a job.
const pollInterval = time.Second

func newJobsCmd(g *globalFlags) *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List the cluster's jobs (submitted ones and plain drivers)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client(cmd.Context(), g)
			if err != nil {
				return err
			}
			js, err := c.Jobs(cmd.Context())
			if err != nil {
				return err
			}
			printJobs(cmd.OutOrStdout(), js)
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status <id>",
		Short: "Show one job: its status, Ray's message, times and entrypoint",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd.Context(), g)
			if err != nil {
				return err
			}
			j, err := c.Job(cmd.Context(), args[0])
			if err != nil {
				return jobErr(args[0], err)
			}
			printJob(cmd.OutOrStdout(), j)
			return nil
		},
	}
	var follow bool
	logs := &cobra.Command{
		Use:   "logs <id>",
		Short: "Print a submitted job's output (-f: follow it until the job ends)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd.Context(), g)
			if err != nil {
				return err
			}
			if !follow {
				s, err := c.JobLogs(cmd.Context(), args[0])
				if err != nil {
					return jobErr(args[0], err)
				}
				_, err = io.WriteString(cmd.OutOrStdout(), s)
				return err
			}
			_, err = followJob(cmd.Context(), c, args[0], cmd.OutOrStdout())
			return err
		},
	}
	logs.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until the job ends")
	stop := &cobra.Command{
		Use:   "stop <id>",
		Short: "Stop a submitted job (Ray sends its driver SIGTERM, then SIGKILL)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd.Context(), g)
			if err != nil {
				return err
			}
			stopped, err := c.StopJob(cmd.Context(), args[0])
			if err != nil {
				return jobErr(args[0], err)
			}
			if stopped {
				fmt.Fprintf(cmd.OutOrStdout(), "stopping job %s\n", args[0])
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "job %s is not running\n", args[0])
			}
			return nil
		},
	}
	return group("jobs", "The cluster's jobs (Ray's Jobs API)", list, status, logs, stop)
}

// jobErr says what an unknown job id means.
func jobErr(id string, err error) error {
	if rayapi.NotFound(err) {
		return fmt.Errorf("no job %s on this cluster (fray jobs list shows them): %w", id, err)
	}
	return err
}

// followJob prints the job's output as it grows until the job ends, and returns its final
// state: a *JobError when it did not succeed.
func followJob(ctx context.Context, c *rayapi.Client, id string, w io.Writer) (rayapi.Job, error) {
	printed := 0
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			return j, jobErr(id, err)
		}
		logs, err := c.JobLogs(ctx, id)
		if err != nil {
			return j, jobErr(id, err)
		}
		if len(logs) > printed {
			if _, err := io.WriteString(w, logs[printed:]); err != nil {
				return j, err
			}
			printed = len(logs)
		}
		if rayapi.Terminal(j.Status) {
			if j.Status != rayapi.JobSucceeded {
				return j, &JobError{ID: id, Status: j.Status, Message: j.Message, ExitCode: j.DriverExitCode}
			}
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, fmt.Errorf("stopped following job %s, which goes on (fray jobs stop %s ends it): %w", id, id, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// printJobs writes the job table, oldest first.
func printJobs(w io.Writer, js []rayapi.Job) {
	sort.SliceStable(js, func(i, k int) bool { return js[i].StartTime < js[k].StartTime })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRAY JOB\tSTATUS\tSTART\tDURATION\tENTRYPOINT")
	for _, j := range js {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.ID(), j.JobID, j.Status, msTime(j.StartTime),
			duration(j.StartTime, j.EndTime), short(j.Entrypoint, 60))
	}
	tw.Flush()
}

// printJob writes one job's details.
func printJob(w io.Writer, j rayapi.Job) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\n", j.ID())
	fmt.Fprintf(tw, "ray job\t%s\n", j.JobID)
	fmt.Fprintf(tw, "status\t%s\n", j.Status)
	if j.Message != "" {
		fmt.Fprintf(tw, "message\t%s\n", firstLine(j.Message))
	}
	if j.DriverExitCode != nil {
		fmt.Fprintf(tw, "exit status\t%d\n", *j.DriverExitCode)
	}
	fmt.Fprintf(tw, "start\t%s\n", msTime(j.StartTime))
	if j.EndTime > 0 {
		fmt.Fprintf(tw, "end\t%s (%s)\n", msTime(j.EndTime), duration(j.StartTime, j.EndTime))
	}
	fmt.Fprintf(tw, "entrypoint\t%s\n", j.Entrypoint)
	tw.Flush()
}

func msTime(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return time.UnixMilli(ms).Format("2006-01-02 15:04:05")
}

func duration(start, end int64) string {
	if start <= 0 {
		return "-"
	}
	if end <= 0 {
		return "running " + time.Since(time.UnixMilli(start)).Round(time.Second).String()
	}
	return (time.Duration(end-start) * time.Millisecond).Round(100 * time.Millisecond).String()
}
