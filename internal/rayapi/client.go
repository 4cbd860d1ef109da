// Package rayapi is a client of the REST API that a Ray cluster's dashboard serves: the
// Jobs API (submit, status, logs, stop, and the package upload behind a job's working_dir)
// and the state API (/api/v0/actors, tasks, objects, nodes). It speaks HTTP only, needs no
// Python, and sends the cluster's token for Ray's token authentication as a bearer token.
// The endpoints and bodies are those of the Ray version scripts/setup-python.sh pins.
package rayapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to one cluster's dashboard.
type Client struct {
	// BaseURL is the dashboard's URL, e.g. "http://127.0.0.1:8265".
	BaseURL string
	// Token is the cluster's token for Ray's token authentication; empty sends none.
	Token string
	// HTTP is the client used; nil means one with a 60 s timeout per request.
	HTTP *http.Client
}

// HTTPError is an answer of the dashboard with a status other than 2xx.
type HTTPError struct {
	Method, URL string
	Status      int    // the HTTP status code
	Body        string // the dashboard's text (often a Python traceback), trimmed
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("ray dashboard: %s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		s += ": the cluster requires its token (Ray's token authentication); set RAY_AUTH_TOKEN_PATH to the file " +
			"holding it, or run in the directory where `fray cluster start` wrote .cache/ray-auth-token"
	}
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// NotFound reports whether err is the dashboard's 404, e.g. for an unknown job.
func NotFound(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.Status == http.StatusNotFound
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 60 * time.Second}
}

// do sends one request; a JSON answer is decoded into out when out is not nil.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body io.Reader, contentType string, out any) error {
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("ray dashboard at %s does not answer (is the cluster running, with its dashboard?): %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("ray dashboard: %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &HTTPError{Method: method, URL: path, Status: resp.StatusCode, Body: trimBody(string(data))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("ray dashboard: %s %s: unexpected answer (%v): %s", method, path, err, trimBody(string(data)))
	}
	return nil
}

// trimBody shortens a dashboard error body to its last lines, where a Python traceback
// says what went wrong.
func trimBody(s string) string {
	s = strings.TrimSpace(s)
	lines := strings.Split(s, "\n")
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	s = strings.Join(lines, "\n")
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

// Version is the answer of /api/version.
type Version struct {
	Version     string `json:"version"` // the Jobs API's version
	RayVersion  string `json:"ray_version"`
	RayCommit   string `json:"ray_commit"`
	SessionName string `json:"session_name"`
}

// Version asks the dashboard for its Ray version; it is also the cheapest check that the
// dashboard answers and accepts the token.
func (c *Client) Version(ctx context.Context) (Version, error) {
	var v Version
	err := c.do(ctx, http.MethodGet, "/api/version", nil, nil, "", &v)
	return v, err
}

// jsonBody encodes v as a request body.
func jsonBody(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// itoa formats n for a query string.
func itoa(n int) string { return strconv.Itoa(n) }
