package rayapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Filter is one predicate of a state API listing: Key "=" or "!=" Value, e.g.
// {"state", "=", "ALIVE"}.
type Filter struct{ Key, Op, Value string }

// Listing is one page of a state API listing.
type Listing struct {
	// Total is how many entries the cluster has; Rows holds at most the requested limit.
	Total int
	// Rows are the entries, one JSON object each, with Ray's field names.
	Rows []map[string]any
	// Warnings are Ray's notes about a partial answer.
	Warnings []string
}

// List lists one kind of state ("actors", "tasks", "objects", "nodes", "jobs",
// "placement_groups", "workers") through /api/v0/<kind>, at most limit entries (0: Ray's
// default of 100).
func (c *Client) List(ctx context.Context, kind string, limit int, detail bool, filters ...Filter) (Listing, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", itoa(limit))
	}
	if detail {
		q.Set("detail", "1")
	}
	for _, f := range filters {
		q.Add("filter_keys", f.Key)
		q.Add("filter_predicates", f.Op)
		q.Add("filter_values", f.Value)
	}
	var out struct {
		Result bool   `json:"result"`
		Msg    string `json:"msg"`
		Data   struct {
			Result struct {
				Total    int               `json:"total"`
				Result   []json.RawMessage `json:"result"`
				Warnings []string          `json:"warnings"`
				Partial  *string           `json:"partial_failure_warning"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v0/"+kind, q, nil, "", &out); err != nil {
		return Listing{}, err
	}
	if !out.Result {
		return Listing{}, fmt.Errorf("ray state API: listing %s failed: %s", kind, out.Msg)
	}
	l := Listing{Total: out.Data.Result.Total, Warnings: out.Data.Result.Warnings}
	if p := out.Data.Result.Partial; p != nil && *p != "" {
		l.Warnings = append(l.Warnings, *p)
	}
	for _, raw := range out.Data.Result.Result {
		var row map[string]any
		if err := json.Unmarshal(raw, &row); err != nil {
			return Listing{}, fmt.Errorf("ray state API: listing %s: %w", kind, err)
		}
		l.Rows = append(l.Rows, row)
	}
	return l, nil
}
