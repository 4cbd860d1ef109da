// Package worker is fray's worker mode: the same binary as the driver, started with
// FRAY_WORKER set, serving tasks and actors over the wire protocol (internal/wire,
// PROTOCOL.md), and the parent side that starts such a process and talks to it.
//
//	p, err := worker.Start(ctx, worker.StartOptions{Host: jc}) // this binary, in worker mode
//	if err != nil { ... }
//	defer p.Close()
//	result, err := p.Run(ctx, "examples.square", argBytes, fray.TaskInfo{TaskID: "t1"})
//
// Child side: a process started as a worker (FRAY_WORKER set) runs ServeFromEnv from the
// first call of its main (or TestMain): worker.Init passes it to internal/workermode.Enter
// by name, and fray.Init reaches it through the one link this package makes at
// initialization (link.go: workermode.Link), since package fray cannot import this one.
// The protocol runs on file descriptors 3 (parent → child) and 4 (child → parent),
// inherited from the parent; stdout and stderr stay the program's own, for task logs. The child exits with code 0 when
// fd 3 reaches end of file or the parent sends Shutdown, and (on Linux) when its parent
// process dies.
//
// Parent side: Start launches a worker process and returns a *Process whose Run,
// CreateActor and CallActor send calls to it; nested calls the child makes (tasks submitted
// from inside a task, Get, Wait, Put, actor calls, named-actor lookups) are served by the
// backend.JobContext given as StartOptions.Host.
//
// The files, one job each:
//
//   - link.go: the link that lets fray.Init run ServeFromEnv (see internal/workermode).
//   - serve.go: the child's server: ServeFromEnv, CheckDriver, the handshake, the read loop
//     that dispatches the parent's frames, and running tasks.
//   - actors.go: the server's actors: their state in the child and their queues of calls.
//   - client.go: the nested-call client, the backend.JobContext that code running in the
//     child sees; each method is a request to the parent.
//   - parent.go, calls.go, nested.go: the parent side: Start and Process (the handshake,
//     the read and wait loops), the calls it sends the child, and serving the child's
//     nested calls from StartOptions.Host.
//   - stream.go: streams consumed by code in the child (nested requests) and the parent's
//     table of their readers; serve.go's streamCtx sends a streaming function's items.
//   - peer.go: request ids and pending replies, shared by both directions.
//   - sys_*.go, unsupported.go: the OS-specific parts; outside unix Start returns a
//     *fray.UnsupportedError (worker processes need inherited fds 3 and 4).
package worker
