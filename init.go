package fray

import "github.com/fray-go/fray/internal/workermode"

// Init must be the first call in main (and in TestMain of test packages whose tests start
// worker processes). In a process started as a fray worker it serves calls and never
// returns; in a driver it freezes the task registry and returns.
//
// The worker loop it runs is internal/worker's, linked into every binary that imports a
// fray backend package that starts worker processes (or package worker, whose worker.Init
// names the loop itself); internal/workermode's doc shows the path.
//
// Logging: when FRAY_LOG_LEVEL or FRAY_LOG_FORMAT (text or json) is set, Init makes a
// log/slog handler of that level and format on standard error the process's default
// logger (slog's and the standard log package's). The executor's command line sets both
// from its --log-level and --log-format flags, and worker processes inherit them, so every
// process of a run logs in one format; a worker's records carry its worker_pid.
//
// A worker process whose main creates a job context (local.New, ray.Connect) before calling
// Init would become a driver starting workers of its own: the constructor instead makes it
// exit at once, and the driver's call fails with a *WorkerStartError naming Init.
func Init() { workermode.Enter(nil) }

// IsWorker reports whether this process is a fray worker process.
func IsWorker() bool { return workermode.IsWorker() }
