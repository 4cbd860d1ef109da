package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fray-go/fray/internal/rayapi"
)

// column is one column of a state table: its header and the Ray field it shows.
type column struct {
	head, field string
	width       int // ids are cut to this many characters (0: whole)
}

// stateColumns are the columns of each listing. fray's names are Ray's: an actor's CLASS is
// its fray class name and NAME its named-actor name, a task's NAME its fray task or method
// name (the Ray backend names them so).
var stateColumns = map[string][]column{
	"actors": {{"ACTOR ID", "actor_id", 0}, {"CLASS", "class_name", 0}, {"NAME", "name", 0},
		{"NAMESPACE", "ray_namespace", 0}, {"STATE", "state", 0}, {"JOB", "job_id", 0},
		{"PID", "pid", 0}, {"NODE", "node_id", 8}},
	"tasks": {{"TASK ID", "task_id", 0}, {"NAME", "name", 0}, {"STATE", "state", 0},
		{"TYPE", "type", 0}, {"JOB", "job_id", 0}, {"ACTOR ID", "actor_id", 0},
		{"ATTEMPT", "attempt_number", 0}, {"NODE", "node_id", 8}, {"ERROR", "error_type", 0}},
	"objects": {{"OBJECT ID", "object_id", 0}, {"SIZE", "object_size", 0},
		{"REFERENCE", "reference_type", 0}, {"TASK STATUS", "task_status", 0},
		{"PID", "pid", 0}, {"IP", "ip", 0}},
}

// stateFlags are the flags of `fray <kind> list`.
type stateFlags struct {
	limit  int
	state  string
	job    string
	output string
}

func newStateCmd(g *globalFlags, kind string) *cobra.Command {
	f := &stateFlags{}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the cluster's " + kind + " (Ray's state API), with fray's names",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			filters, err := f.filters(kind)
			if err != nil {
				return err
			}
			c, err := client(cmd.Context(), g)
			if err != nil {
				return err
			}
			l, err := c.List(cmd.Context(), kind, f.limit, false, filters...)
			if err != nil {
				return err
			}
			return printListing(cmd.OutOrStdout(), cmd.ErrOrStderr(), kind, l, f.output)
		},
	}
	fl := list.Flags()
	fl.IntVar(&f.limit, "limit", 100, "at most this many entries")
	if kind != "objects" {
		fl.StringVar(&f.state, "state", "", "only entries in this state (e.g. ALIVE, DEAD, RUNNING, FINISHED, FAILED)")
	}
	fl.StringVar(&f.job, "job", "", "only entries of this Ray job id (e.g. 02000000)")
	fl.StringVarP(&f.output, "output", "o", "table", "table or json (Ray's fields, all of them)")
	return group(kind, "The cluster's "+kind+" (Ray's state API)", list)
}

// filters checks the flags and turns them into state API filters.
func (f *stateFlags) filters(kind string) ([]rayapi.Filter, error) {
	if f.limit <= 0 {
		return nil, usagef("invalid --limit %d: must be 1 or more", f.limit)
	}
	if f.output != "table" && f.output != "json" {
		return nil, usagef("invalid --output %q: use table or json", f.output)
	}
	var out []rayapi.Filter
	if f.state != "" {
		out = append(out, rayapi.Filter{Key: "state", Op: "=", Value: strings.ToUpper(f.state)})
	}
	if f.job != "" {
		out = append(out, rayapi.Filter{Key: "job_id", Op: "=", Value: f.job})
	}
	return out, nil
}

// printListing writes a listing as a table (or JSON), with Ray's warnings on stderr.
func printListing(w, errw io.Writer, kind string, l rayapi.Listing, output string) error {
	for _, s := range l.Warnings {
		fmt.Fprintln(errw, "ray:", s)
	}
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(l.Rows)
	}
	cols := stateColumns[kind]
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	heads := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.head
	}
	fmt.Fprintln(tw, strings.Join(heads, "\t"))
	for _, r := range l.Rows {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = short(str(r[c.field]), c.width)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if l.Total > len(l.Rows) {
		fmt.Fprintf(errw, "(%d of %d %s; --limit shows more)\n", len(l.Rows), l.Total, kind)
	}
	return nil
}

// str formats a JSON value for a table cell ("" for null).
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprintf("%.0f", x)
	default:
		return fmt.Sprint(x)
	}
}

// short cuts s to n characters (n 0: not at all).
func short(s string, n int) string {
	if n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}
