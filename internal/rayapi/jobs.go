package rayapi

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
)

// JobSubmit is the body of a job submission (Ray's JobSubmitRequest).
type JobSubmit struct {
	// Entrypoint is the shell command the job runs on the cluster (in its working_dir).
	Entrypoint string `json:"entrypoint"`
	// SubmissionID names the job; empty lets Ray choose one ("raysubmit_...").
	SubmissionID string `json:"submission_id,omitempty"`
	// RuntimeEnv is the job's runtime environment (working_dir, env_vars, ...).
	RuntimeEnv map[string]any `json:"runtime_env,omitempty"`
	// Metadata is free-form and shown by `fray jobs status`.
	Metadata map[string]string `json:"metadata,omitempty"`
	// EntrypointNumCPUs reserves CPUs for the entrypoint (the driver) itself.
	EntrypointNumCPUs float64 `json:"entrypoint_num_cpus,omitempty"`
	// EntrypointResources reserves custom resources for the entrypoint, which also picks
	// the node it runs on (e.g. {"head_node": 0.001}).
	EntrypointResources map[string]float64 `json:"entrypoint_resources,omitempty"`
}

// Job states (Ray's JobStatus).
const (
	JobPending   = "PENDING"
	JobRunning   = "RUNNING"
	JobStopped   = "STOPPED"
	JobSucceeded = "SUCCEEDED"
	JobFailed    = "FAILED"
)

// Terminal reports whether a job in state status has ended.
func Terminal(status string) bool {
	return status == JobStopped || status == JobSucceeded || status == JobFailed
}

// Job is what the Jobs API reports about one job (Ray's JobDetails; times in ms since the
// epoch, 0 when not yet).
type Job struct {
	Type           string            `json:"type"` // SUBMISSION or DRIVER
	JobID          string            `json:"job_id"`
	SubmissionID   string            `json:"submission_id"`
	Status         string            `json:"status"`
	Entrypoint     string            `json:"entrypoint"`
	Message        string            `json:"message"`
	ErrorType      string            `json:"error_type"`
	StartTime      int64             `json:"start_time"`
	EndTime        int64             `json:"end_time"`
	Metadata       map[string]string `json:"metadata"`
	DriverExitCode *int              `json:"driver_exit_code"`
}

// ID is the job's submission id, else (a job not submitted through the Jobs API) its
// Ray job id.
func (j Job) ID() string {
	if j.SubmissionID != "" {
		return j.SubmissionID
	}
	return j.JobID
}

// SubmitJob submits a job and returns its submission id.
func (c *Client) SubmitJob(ctx context.Context, req JobSubmit) (string, error) {
	body, err := jsonBody(req)
	if err != nil {
		return "", err
	}
	var out struct {
		SubmissionID string `json:"submission_id"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/jobs/", nil, body, "application/json", &out); err != nil {
		return "", err
	}
	return out.SubmissionID, nil
}

// Job returns one job by submission id or Ray job id.
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	var j Job
	err := c.do(ctx, http.MethodGet, "/api/jobs/"+url.PathEscape(id), nil, nil, "", &j)
	return j, err
}

// Jobs lists the cluster's jobs, submitted ones and plain drivers.
func (c *Client) Jobs(ctx context.Context) ([]Job, error) {
	var js []Job
	err := c.do(ctx, http.MethodGet, "/api/jobs/", nil, nil, "", &js)
	return js, err
}

// JobLogs returns the output of a submitted job's entrypoint so far.
func (c *Client) JobLogs(ctx context.Context, id string) (string, error) {
	var out struct {
		Logs string `json:"logs"`
	}
	err := c.do(ctx, http.MethodGet, "/api/jobs/"+url.PathEscape(id)+"/logs", nil, nil, "", &out)
	return out.Logs, err
}

// StopJob asks Ray to stop a submitted job; it reports whether the job was running.
func (c *Client) StopJob(ctx context.Context, id string) (bool, error) {
	var out struct {
		Stopped bool `json:"stopped"`
	}
	err := c.do(ctx, http.MethodPost, "/api/jobs/"+url.PathEscape(id)+"/stop", nil, nil, "", &out)
	return out.Stopped, err
}

// PackageURI is the runtime_env URI of a package uploaded under name
// ("_ray_pkg_<hash>.zip"), as Ray's working_dir expects it.
func PackageURI(name string) string { return "gcs://" + name }

// UploadPackage stores a zip package in the cluster's GCS under name, unless a package of
// that name is there already (names are content hashes). Ray unpacks it into the job's
// working directory on every node that runs part of the job.
func (c *Client) UploadPackage(ctx context.Context, name string, zip []byte) error {
	path := "/api/packages/gcs/" + url.PathEscape(name)
	err := c.do(ctx, http.MethodGet, path, nil, nil, "", nil)
	if err == nil {
		return nil // present (and now pinned for a while by Ray)
	}
	if !NotFound(err) {
		return err
	}
	return c.do(ctx, http.MethodPut, path, nil, bytes.NewReader(zip), "application/octet-stream", nil)
}

// PackageName is the name Ray gives a package: "_ray_pkg_" and a hex content hash.
func PackageName(hexHash string) string {
	return "_ray_pkg_" + strings.ToLower(hexHash) + ".zip"
}
