package worker

import "github.com/fray-go/fray/internal/workermode"

// linked makes ServeFromEnv the loop fray.Init runs in a worker process. Package fray cannot
// import this package (this one imports fray), so the link goes through
// internal/workermode; this declaration is the only work package initialization does here,
// and the only place the loop is linked. worker.Init passes ServeFromEnv explicitly and
// needs no link.
var linked = workermode.Link(ServeFromEnv)
