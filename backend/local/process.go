package local

import "github.com/fray-go/fray"

// This file is the seam where work that needs a process of its own leaves the in-process
// backend. Today routeToProcess refuses it; the process worker pool will take these cases
// (running the same binary in worker mode) without changes elsewhere in the package.

// needsProcess reports whether a task or actor with these options needs its own worker
// process, naming the option that asks for it and what to do instead. maxCalls is 0 for
// actors. The in-process backend never touches its own environment (no os.Setenv): a
// per-task environment can only be given to a child process.
func needsProcess(maxCalls int, env fray.RuntimeEnv) (feature, hint string, needs bool) {
	switch {
	case maxCalls > 0:
		return "TaskOptions.MaxCalls", "MaxCalls recycles the worker process after that many calls, and the in-process local backend runs tasks as goroutines of this process; leave MaxCalls at 0 for local runs, or use the ray backend", true
	case len(env.PackageRequirements) > 0:
		return "RuntimeEnv.PackageRequirements", "installing packages needs a separate process with its own virtualenv, and the in-process local backend runs tasks as goroutines of this process; install the packages in the driver's environment for local runs, or use the ray backend", true
	case len(env.Env) > 0:
		return "RuntimeEnv.Env", "environment variables are per process, and the in-process local backend runs tasks as goroutines of this process (it never changes its own environment); pass the values as task arguments, set them before starting the program, or use the ray backend", true
	}
	return "", "", false
}

// routeToProcess handles a task or actor that needs a process of its own. what names it
// ("task examples.square", "actor examples.Counter") for the error.
func (j *JobContext) routeToProcess(what, feature, hint string) error {
	return &fray.UnsupportedError{Backend: "local", Feature: feature, Hint: what + ": " + hint}
}
